import type { BenchRow } from './stats.js';
export async function httpBench(_report: (row: BenchRow) => void = () => {}): Promise<BenchRow[]> {
  return [];
}
