import { startTestStack, type TestStack } from '../test/helpers/local-stack.js';
import {
  closedLoop,
  closedLoopInWorker,
  type LoadResult,
  type LoadSpec,
} from './load-generator.js';
import { requestPool } from './queries.js';
import { type BenchRow, summarize } from './stats.js';

const LOAD = { workers: 16, warmupMs: 1000, measureMs: 5000 } as const;
/** BENCH_HTTP_CLIENT=main runs the load generator on the server's own event loop instead of a worker thread. */
const CLIENT_THREAD = process.env.BENCH_HTTP_CLIENT === 'main' ? 'main' : 'worker';
const runLoad = (spec: LoadSpec) =>
  CLIENT_THREAD === 'main' ? closedLoop(spec) : closedLoopInWorker(spec);

type Report = (row: BenchRow) => void;

const range = (counts: number[]) => {
  const full = Array.from(counts, (n) => n ?? 0);
  return full.length ? `${Math.min(...full)}-${Math.max(...full)}` : 'n/a';
};

function rowsFor(label: string, r: LoadResult, extra: string): BenchRow[] {
  const s = summarize(r.latenciesMs);
  return [
    {
      name: `${label}: throughput`,
      value: r.requests / r.seconds,
      unit: 'req/s',
      note: `${LOAD.workers} closed-loop fetch workers (keep-alive) ${CLIENT_THREAD === 'main' ? "on the server's event loop" : 'in a worker thread'}, ${r.requests.toLocaleString('en-US')} requests in ${r.seconds.toFixed(1)} s after ${LOAD.warmupMs / 1000} s warm-up (per-second range ${range(r.perSecond)}); ${extra}`,
    },
    {
      name: `${label}: latency p50`,
      value: s.p50,
      unit: 'ms',
      note: `mean ${s.mean.toFixed(1)} ms`,
    },
    { name: `${label}: latency p90`, value: s.p90, unit: 'ms', note: '' },
    { name: `${label}: latency p99`, value: s.p99, unit: 'ms', note: `max ${s.max.toFixed(1)} ms` },
    {
      name: `${label}: non-2xx`,
      value: r.non2xx,
      unit: 'responses',
      note: `${r.errors} transport errors${r.firstFailure ? `; first problem: ${r.firstFailure}` : ''}`,
    },
  ];
}

async function routeLoad(stack: TestStack): Promise<{ rows: BenchRow[]; stored: number }> {
  const spec: LoadSpec = {
    ...LOAD,
    url: `${stack.apiUrl}/api/v1/route`,
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
    bodies: requestPool(512).map((r) =>
      JSON.stringify({ query: r.query, source_eid: r.sourceEid, priority: r.priority }),
    ),
    expect: 'route-decision',
  };
  const result = await runLoad(spec);

  // Every 2xx must have stored exactly one packet, or the run measured something else.
  const res = await stack.api('/api/v1/packets/stats');
  const { stats } = (await res.json()) as { stats: { total_packets: number } };
  if (stats.total_packets !== result.ok2xxTotal) {
    throw new Error(
      `${result.ok2xxTotal} routes answered 2xx but ${stats.total_packets} packets were stored`,
    );
  }
  const rows = rowsFor(
    'POST /api/v1/route',
    result,
    `varied queries; per request: mappings GetItem, packet PutItem, stats UpdateItem on dynalite (the token is cached after its first use); verified ${stats.total_packets.toLocaleString('en-US')} packets stored = 2xx answers (warm-up included)`,
  );
  return { rows, stored: stats.total_packets };
}

async function recentLoad(stack: TestStack, stored: number): Promise<BenchRow[]> {
  const result = await runLoad({
    ...LOAD,
    url: `${stack.apiUrl}/api/v1/packets/recent?count=10`,
    method: 'GET',
    headers: { authorization: `Bearer ${stack.token}` },
    expect: 'recent-10',
  });
  return rowsFor(
    'GET /api/v1/packets/recent?count=10',
    result,
    `table holds ${stored.toLocaleString('en-US')} packets; per request: 1 Query (token cached); every body checked for 10 packets`,
  );
}

/**
 * The API over real HTTP loopback on the local stack. The API server, dynalite
 * and s3rver share the main thread's event loop; the load generator has its own
 * thread. Figures are for that whole stack on this machine, not the API alone.
 */
export async function httpBench(report: Report = () => {}): Promise<BenchRow[]> {
  const stack = await startTestStack();
  try {
    const { rows: routeRows, stored } = await routeLoad(stack);
    for (const row of routeRows) report(row);
    const recentRows = await recentLoad(stack, stored);
    for (const row of recentRows) report(row);
    return [...routeRows, ...recentRows];
  } finally {
    await stack.stop();
  }
}
