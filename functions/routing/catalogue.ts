import type { ModelEntry } from './mappings.js';
import type { WorkloadType } from './workload.js';

export const PRIORITIES = ['low', 'medium', 'high'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** How much quality, latency and cost count at each request priority. */
const WEIGHTS: Record<Priority, { quality: number; latency: number; cost: number }> = {
  high: { quality: 10, latency: 1, cost: 0.1 },
  medium: { quality: 4, latency: 1, cost: 1 },
  low: { quality: 1, latency: 2, cost: 2 },
};

export const PRIORITY_DESCRIPTIONS: Record<Priority, string> = {
  high: 'quality first',
  medium: 'balanced quality, latency and cost',
  low: 'cheapest and fastest first',
};

/** DSCP per priority (AF41, AF21, CS1); copied to the outer header on encapsulation. */
export const PRIORITY_DSCP: Record<Priority, number> = { high: 34, medium: 18, low: 8 };

export interface RankedModel {
  model: ModelEntry;
  score: number;
}

/**
 * Ranks the catalogue for a workload: local_private is a hard rule (local
 * models only); otherwise models listing the workload among their strengths
 * are preferred, and all enabled models are the fallback.
 */
export function rankModels(
  models: readonly ModelEntry[],
  workload: WorkloadType,
  priority: Priority,
): { ranked: RankedModel[]; reasons: string[] } {
  const reasons: string[] = [];
  let pool = models.filter((m) => m.enabled);
  if (workload === 'local_private') {
    pool = pool.filter((m) => m.locality === 'local');
    reasons.push('only local models may serve local_private workloads');
  }
  const strong = pool.filter((m) => m.strengths.includes(workload));
  if (strong.length > 0) pool = strong;
  else if (pool.length > 0)
    reasons.push(`no model lists ${workload} as a strength; ranking all candidates`);
  const w = WEIGHTS[priority];
  const ranked = pool
    .map((model) => ({
      model,
      score:
        Math.round(
          (w.quality * model.quality - (w.latency * model.latency_ms) / 100 - w.cost * model.cost) *
            100,
        ) / 100,
    }))
    .sort((a, b) => b.score - a.score || a.model.name.localeCompare(b.model.name));
  reasons.push(`priority ${priority}: ${PRIORITY_DESCRIPTIONS[priority]}`);
  return { ranked, reasons };
}
