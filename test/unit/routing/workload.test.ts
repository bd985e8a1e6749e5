import { describe, expect, it } from 'vitest';
import { classifyWorkload, WORKLOAD_TYPES } from '../../../functions/routing/workload.js';

const LONG_ANALYSIS =
  'Please analyze the trade-offs between centralised and federated identity for a large ' +
  'university. Compare the operational burden, the failure modes during outages and the ' +
  'long-term implications for staff turnover. Evaluate which strategy scales better over a ' +
  'decade, explain why, and reason step by step about the hidden costs that usually appear ' +
  'only after the first few years of running such a system in production at a campus scale.';

describe('classifyWorkload', () => {
  it('classifies code queries as code_generation and names the matched terms', () => {
    const c = classifyWorkload('Write a Python function to calculate factorial');
    expect(c.workload_type).toBe('code_generation');
    const reason = c.reasons.find((r) => r.startsWith('code_generation: programming terms'));
    expect(reason).toBeDefined();
    for (const term of ['python', 'function', 'factorial']) expect(reason).toContain(term);
    expect(c.scores.code_generation).toBe(6);
  });

  it('counts code syntax as a strong code signal', () => {
    const c = classifyWorkload('```\ndef add(a, b):\n    return a + b\n```\nmake this faster');
    expect(c.workload_type).toBe('code_generation');
    expect(c.reasons.some((r) => r.includes('code syntax'))).toBe(true);
  });

  it('privacy terms force local_private even when code terms score higher', () => {
    const query =
      'Refactor this Python function, debug the SQL script and implement the regex for our confidential data';
    const c = classifyWorkload(query);
    expect(c.scores.code_generation).toBeGreaterThan(c.scores.local_private);
    expect(c.workload_type).toBe('local_private');
    expect(c.reasons.some((r) => r.includes('confidential'))).toBe(true);
    expect(c.reasons.at(-1)).toMatch(
      /^local_private: privacy terms keep the query on local models/,
    );
  });

  it.each([
    'Store the patient passwords somewhere',
    'Summarise this HIPAA memo',
    'Keep it on-prem please',
    'Our internal-only roadmap',
  ])('treats %j as local_private', (query) => {
    expect(classifyWorkload(query).workload_type).toBe('local_private');
  });

  it('classifies long analytical text as complex_reasoning', () => {
    expect(LONG_ANALYSIS.length).toBeGreaterThan(400);
    const c = classifyWorkload(LONG_ANALYSIS);
    expect(c.workload_type).toBe('complex_reasoning');
    expect(
      c.reasons.some((r) => r.includes(`long query (${LONG_ANALYSIS.length} characters)`)),
    ).toBe(true);
    expect(c.reasons.some((r) => /reasoning terms \(.*trade-offs/.test(r))).toBe(true);
  });

  it('classifies a short "what is X" as fast_response', () => {
    const c = classifyWorkload('What is DNS?');
    expect(c.workload_type).toBe('fast_response');
    expect(c.scores.fast_response).toBe(3);
    expect(c.reasons).toEqual([
      'fast_response: quick-answer terms (what is) +2',
      'fast_response: short query (12 characters) +1',
    ]);
    expect(c.confidence).toBe(1);
  });

  it.each([
    '',
    '   \n\t ',
    'Tell me a story about a dragon who lives in a mountain and loves apples',
  ])('falls back to general with a reason for %j', (query) => {
    const c = classifyWorkload(query);
    expect(c.workload_type).toBe('general');
    expect(c.reasons).toContain('general: no rule matched');
    expect(Object.values(c.scores).every((s) => s === 0)).toBe(true);
  });

  it('caps each rule at three hits', () => {
    const c = classifyWorkload('python java rust golang sql bash html css');
    expect(c.scores.code_generation).toBe(6);
  });

  it('always reports a confidence in [0, 1] that is the winner share of the total', () => {
    const queries = [
      '',
      'What is DNS?',
      'Write a Python function to calculate factorial',
      'Why should I compare these two strategies? Quick answer please',
      LONG_ANALYSIS,
      'private python proof quick',
    ];
    for (const q of queries) {
      const c = classifyWorkload(q);
      expect(c.confidence).toBeGreaterThanOrEqual(0);
      expect(c.confidence).toBeLessThanOrEqual(1);
      expect(WORKLOAD_TYPES).toContain(c.workload_type);
      const total = Object.values(c.scores).reduce((a, b) => a + b, 0);
      if (total > 0) {
        expect(c.confidence).toBeCloseTo(c.scores[c.workload_type] / total, 2);
      }
    }
  });
});

describe('classifyWorkload edge cases', () => {
  it('recognises C++ followed by punctuation or the end of the text', () => {
    for (const q of ['How do I write C++?', 'Port this to C++', 'C++, Rust or Go?']) {
      const c = classifyWorkload(q);
      expect(c.workload_type).toBe('code_generation');
      expect(c.reasons.join(' ')).toContain('c++');
    }
  });

  it('does not mistake English phrases for code syntax', () => {
    const c = classifyWorkload('Can you let me know how plants grow in the winter time?');
    expect(c.workload_type).not.toBe('code_generation');
    expect(c.reasons.join(' ')).not.toContain('code syntax');
    expect(classifyWorkload('const total = items.length').reasons.join(' ')).toContain(
      'code syntax',
    );
    expect(classifyWorkload('def area(r): return r * r').reasons.join(' ')).toContain(
      'code syntax',
    );
  });

  it('measures the long-query rule on trimmed text', () => {
    const padded = `  What is DNS?${' '.repeat(500)}`;
    expect(classifyWorkload(padded).scores.complex_reasoning).toBe(0);
  });
});
