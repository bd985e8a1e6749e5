import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One measured figure. `note` says what was measured and anything a reader must know. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note: string;
}

export type Bench = (log: (row: BenchRow) => void) => Promise<BenchRow[]>;

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

export function summarize(samples: number[]): {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
} {
  const sorted = Float64Array.from(samples).sort();
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
}

export const MB = 1024 * 1024;

/** Milliseconds since an arbitrary origin, sub-millisecond precision. */
export const now = () => performance.now();

/**
 * A full GC when it can be had without changing the npm script's node flags
 * (--expose-gc set at run time); a no-op otherwise. Used only before memory baselines.
 */
export const collectGarbage: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return () => (gc as () => void)();
  } catch {
    // fall through
  }
  return () => {};
})();

export interface MemoryPeak {
  baselineRss: number;
  baselineHeap: number;
  peakRss: number;
  peakHeap: number;
  samples: number;
}

/**
 * Samples process.memoryUsage() every `intervalMs` until stop(); the baseline is
 * taken (after a GC when available) at start. Peaks include the final sample.
 */
export function sampleMemory(intervalMs = 50): { stop(): MemoryPeak } {
  collectGarbage();
  const base = process.memoryUsage();
  const peak: MemoryPeak = {
    baselineRss: base.rss,
    baselineHeap: base.heapUsed,
    peakRss: base.rss,
    peakHeap: base.heapUsed,
    samples: 1,
  };
  const take = () => {
    const m = process.memoryUsage();
    peak.peakRss = Math.max(peak.peakRss, m.rss);
    peak.peakHeap = Math.max(peak.peakHeap, m.heapUsed);
    peak.samples++;
  };
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

export function machineInfo(): {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  os: string;
} {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** Human formatting: 3 significant digits below 100, integers with separators above. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

export function formatRow(row: BenchRow): string {
  return `${row.name}: ${formatValue(row.value)} ${row.unit}${row.note ? `  (${row.note})` : ''}`;
}

export function markdownTable(rows: BenchRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| benchmark | value | unit | note |', '| --- | ---: | --- | --- |'];
  for (const r of rows) {
    lines.push(`| ${cell(r.name)} | ${formatValue(r.value)} | ${cell(r.unit)} | ${cell(r.note)} |`);
  }
  return lines.join('\n');
}
