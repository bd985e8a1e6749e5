import type { TangoPathStats } from '../../native/tango.js';
import {
  PATHS_SCHEMA,
  type TangoPath,
  type TangoPathsMessage,
} from '../../protocol/tango-paths.js';

/**
 * One interval of a path, from two reads of the C core's cumulative counters (pathStats): the
 * receiving node's view of what the peer sent on it. Steering and the `paths` message both
 * use it, so what the cloud is told is what the node decided on.
 */
export interface PathInterval {
  pathId: number;
  /** Packets accepted in the interval. */
  packets: number;
  /** Mean one-way delay of the interval's packets (clock offset applied by the core). */
  delayMs: number;
  /** RFC 3550 jitter at the end of the interval. */
  jitterMs: number;
  /** Sequence numbers missing / spanned in the interval (wrap-safe in the core). */
  loss: number;
  /** Packets that arrived after a higher sequence number / packets accepted. */
  reorder: number;
  throughputBps: number;
  /** Refusals that named this path in the interval, by reason; only the non-zero ones. */
  rejects: Record<string, number>;
}

export function pathInterval(
  pathId: number,
  before: TangoPathStats,
  after: TangoPathStats,
  seconds: number,
): PathInterval {
  const packets = after.rx_packets - before.rx_packets;
  const expected = after.rx_expected - before.rx_expected;
  const lost = after.rx_lost - before.rx_lost;
  const samples = after.delay_samples - before.delay_samples;
  const delaySum = after.delay_sum_ns - before.delay_sum_ns;
  const rejects: Record<string, number> = {};
  for (const [reason, n] of Object.entries(after.rejects)) {
    const delta = n - (before.rejects[reason as keyof typeof before.rejects] ?? 0);
    if (delta > 0) rejects[reason] = delta;
  }
  return {
    pathId,
    packets,
    delayMs: samples > 0 ? Math.max(0, delaySum / samples / 1e6) : 0,
    jitterMs: after.jitter_ns / 1e6,
    loss: expected > 0 ? Math.min(1, Math.max(0, lost / expected)) : 0,
    reorder: packets > 0 ? Math.min(1, (after.rx_reordered - before.rx_reordered) / packets) : 0,
    throughputBps: seconds > 0 ? ((after.rx_bytes - before.rx_bytes) * 8) / seconds : 0,
    rejects,
  };
}

/** Where a path goes, for the cloud: the tunnel addresses and the peer site's RLOC. */
export interface PathEndpoints {
  pathId: number;
  localAddress: string;
  peerAddress: string;
  peerRloc: string;
}

/** The `paths` uplink message of one interval (protocol/tango-paths.ts). */
export function pathsMessage(options: {
  sentAtMs: number;
  seconds: number;
  peer: { agent_id?: string; name?: string };
  endpoints: PathEndpoints[];
  intervals: PathInterval[];
}): TangoPathsMessage {
  const byPath = new Map(options.intervals.map((i) => [i.pathId, i]));
  const paths: TangoPath[] = [];
  for (const end of options.endpoints) {
    const i = byPath.get(end.pathId);
    if (!i) continue;
    paths.push({
      path_id: end.pathId,
      local_address: end.localAddress,
      peer_address: end.peerAddress,
      peer_rloc: end.peerRloc,
      delay_ms: round(Math.min(i.delayMs, 60_000), 3),
      jitter_ms: round(Math.min(i.jitterMs, 60_000), 3),
      loss: round(i.loss, 6),
      reorder: round(i.reorder, 6),
      packets: i.packets,
      throughput_bps: Math.round(i.throughputBps),
      ...(Object.keys(i.rejects).length > 0 ? { rejects: i.rejects } : {}),
    });
  }
  return {
    schema: PATHS_SCHEMA,
    sent_at: options.sentAtMs / 1000,
    interval_s: Math.min(3600, Math.max(1, options.seconds)),
    peer: options.peer,
    paths,
  };
}

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
