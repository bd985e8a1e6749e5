import type { ExpectedFlow } from './model.js';

/** Comparing engine output with ground truth from the model. */

const FIELDS = [
  'ip_version',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'protocol',
  'vlan_id',
  'packets',
  'bytes',
  'packets_fwd',
  'packets_rev',
  'bytes_fwd',
  'bytes_rev',
  'first_seen',
  'last_seen',
  'tcp_flags',
  'state',
  'end_reason',
] as const satisfies readonly (keyof ExpectedFlow)[];

/** A flow-like object reduced to the ground-truth fields, in a fixed key order. */
export function project(flow: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = flow[f];
  return out;
}

const sortKey = (f: Record<string, unknown>) =>
  [
    f.ip_version,
    f.protocol,
    f.vlan_id,
    f.src_ip,
    f.src_port,
    f.dst_ip,
    f.dst_port,
    String(Math.round(Number(f.first_seen) * 1e3)).padStart(16, '0'),
  ].join('|');

/**
 * Both sides projected and sorted by a stable key, with the actual timestamps replaced by the
 * expected ones when they agree within 1 µs, ready for `expect(actual).toEqual(expected)`.
 */
export function alignFlows(
  actual: readonly Record<string, unknown>[],
  expected: readonly ExpectedFlow[],
): { actual: Record<string, unknown>[]; expected: Record<string, unknown>[] } {
  const sort = (rows: Record<string, unknown>[]) =>
    rows.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const e = sort(expected.map((f) => project(f as unknown as Record<string, unknown>)));
  const a = sort(actual.map(project));
  const wanted = new Map(e.map((row) => [sortKey(row), row]));
  for (const row of a) {
    const want = wanted.get(sortKey(row));
    if (!want) continue;
    for (const field of ['first_seen', 'last_seen'] as const) {
      if (Math.abs(Number(row[field]) - Number(want[field])) <= 1e-6) row[field] = want[field];
    }
  }
  return { actual: a, expected: e };
}
