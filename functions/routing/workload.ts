/**
 * Explainable workload classification: each rule is a named pattern with a
 * weight, and the result lists exactly which rules fired.
 */
export const WORKLOAD_TYPES = [
  'local_private',
  'code_generation',
  'complex_reasoning',
  'fast_response',
  'general',
] as const;
export type WorkloadType = (typeof WORKLOAD_TYPES)[number];

export interface Classification {
  workload_type: WorkloadType;
  /** Share of the winning score among all scores, 0..1. */
  confidence: number;
  reasons: string[];
  scores: Record<WorkloadType, number>;
}

interface Rule {
  type: WorkloadType;
  name: string;
  weight: number;
  test: (query: string) => string[];
}

const words = (type: WorkloadType, name: string, weight: number, pattern: RegExp): Rule => ({
  type,
  name,
  weight,
  test: (query) => [...new Set([...query.matchAll(pattern)].map((m) => m[0].toLowerCase()))],
});

const RULES: Rule[] = [
  words(
    'local_private',
    'privacy terms',
    5,
    /\b(private|privacy|confidential|internal[- ]only|pii|ssn|social security|passwords?|secrets?|credentials?|hipaa|gdpr|on[- ]prem(?:ise)?s?|local[- ]only|do not share|patient|medical record)\b/gi,
  ),
  words(
    'code_generation',
    'programming terms',
    2,
    /\b(code|coding|function|python|javascript|typescript|java|rust|golang|sql|regex|algorithm|implement|refactor|debug|bug|compile|script|class|method|api|unit tests?|sorting|recursion|factorial|fibonacci|html|css|bash)\b|\bc\+\+(?![\w+])/gi,
  ),
  {
    type: 'code_generation',
    name: 'code block',
    weight: 4,
    // Syntax, not bare keywords: "let me know" must not look like code.
    test: (q) =>
      /```|\b(def|fn|func)\s+\w+\s*\(|\b(const|let|var)\s+\w+\s*=|\bimport\s+[\w{}*, ]+\s+from\b|#include\s*</.test(
        q,
      )
        ? ['code syntax']
        : [],
  },
  words(
    'complex_reasoning',
    'reasoning terms',
    2,
    /\b(why|prove|proof|analy[sz]e|analysis|compare|comparison|trade-?offs?|step[- ]by[- ]step|reason(?:ing)?|strategy|evaluate|derive|implications?|pros and cons|architecture|in depth|detailed)\b/gi,
  ),
  {
    type: 'complex_reasoning',
    name: 'long query',
    weight: 2,
    test: (q) => (q.trim().length > 400 ? [`${q.trim().length} characters`] : []),
  },
  words(
    'fast_response',
    'quick-answer terms',
    2,
    /\b(quick(?:ly)?|brief(?:ly)?|short|tl;?dr|one word|yes or no|define|definition|translate|what is|who is|when is|capital of)\b/gi,
  ),
  {
    type: 'fast_response',
    name: 'short query',
    weight: 1,
    test: (q) =>
      q.trim().length > 0 && q.trim().length <= 60 ? [`${q.trim().length} characters`] : [],
  },
];

/** Classifies a query by weighted rules; privacy terms always win (a hard rule). */
export function classifyWorkload(query: string): Classification {
  const scores = Object.fromEntries(WORKLOAD_TYPES.map((t) => [t, 0])) as Record<
    WorkloadType,
    number
  >;
  const reasons: string[] = [];
  for (const rule of RULES) {
    const hits = rule.test(query);
    if (hits.length === 0) continue;
    const gained = rule.weight * Math.min(hits.length, 3);
    scores[rule.type] += gained;
    reasons.push(`${rule.type}: ${rule.name} (${hits.slice(0, 5).join(', ')}) +${gained}`);
  }
  let winner: WorkloadType = 'general';
  if (scores.local_private > 0) {
    winner = 'local_private';
    reasons.push('local_private: privacy terms keep the query on local models');
  } else {
    // WORKLOAD_TYPES order breaks ties.
    for (const type of WORKLOAD_TYPES) if (scores[type] > scores[winner]) winner = type;
    if (scores[winner] === 0) reasons.push('general: no rule matched');
  }
  const total = WORKLOAD_TYPES.reduce((sum, t) => sum + scores[t], 0);
  const confidence = total === 0 ? 1 : Math.round((scores[winner] / total) * 100) / 100;
  return { workload_type: winner, confidence, reasons, scores };
}
