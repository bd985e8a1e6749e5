import { routeQuery } from '../functions/routing/router.js';
import { createPacketIdGenerator } from '../functions/store/packet-id.js';
import { requestPool, routeContext } from './queries.js';
import { type BenchRow, now } from './stats.js';

const WARMUP_MS = 1000;
const MEASURE_MS = 3000;
/** Clock reads happen once per batch so they do not dominate a ~10 µs call. */
const BATCH = 32;

/** routeQuery in a loop: classification, ranking, map-cache lookup, frame build, record decode. */
export async function routingBench(
  report: (row: BenchRow) => void = () => {},
): Promise<BenchRow[]> {
  const pool = requestPool(512);
  const nextId = createPacketIdGenerator();
  const byWorkload = new Map<string, number>();
  let measuredBytes = 0;
  let i = 0;

  const run = (ms: number, count: boolean) => {
    const start = now();
    const perSecond: number[] = [];
    let decisions = 0;
    let elapsed = 0;
    while (elapsed < ms) {
      for (let b = 0; b < BATCH; b++, i++) {
        const nowMs = Date.now();
        const { decision, frame } = routeQuery(
          pool[i % pool.length]!,
          routeContext(nextId(nowMs), Math.floor(nowMs * 1000)),
        );
        if (count) {
          measuredBytes += frame.length;
          byWorkload.set(decision.workload_type, (byWorkload.get(decision.workload_type) ?? 0) + 1);
        }
      }
      decisions += BATCH;
      elapsed = now() - start;
      const second = Math.floor(elapsed / 1000);
      if (second < ms / 1000) perSecond[second] = (perSecond[second] ?? 0) + BATCH;
    }
    return { decisions, elapsedMs: elapsed, perSecond };
  };

  run(WARMUP_MS, false);
  const { decisions, elapsedMs, perSecond: slices } = run(MEASURE_MS, true);
  if (measuredBytes === 0) throw new Error('routeQuery produced no frames');
  const perSecond = decisions / (elapsedMs / 1000);
  const mix = [...byWorkload.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${Math.round((100 * n) / decisions)}%`)
    .join(', ');
  const rows: BenchRow[] = [
    {
      name: 'routeQuery decisions/s (1 thread)',
      value: perSecond,
      unit: 'decisions/s',
      note: `${decisions.toLocaleString('en-US')} decisions in ${(elapsedMs / 1000).toFixed(1)} s after ${WARMUP_MS / 1000} s warm-up (per-second range ${Math.min(...slices)}-${Math.max(...slices)}); DEFAULT_MAPPINGS, crypto random; mix: ${mix}`,
    },
    {
      name: 'routeQuery time per decision',
      value: (elapsedMs * 1000) / decisions,
      unit: 'µs',
      note: `mean over the measured run; average frame ${Math.round(measuredBytes / decisions)} B`,
    },
  ];
  for (const row of rows) report(row);
  return rows;
}
