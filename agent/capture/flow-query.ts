import type { FlowRecord } from '../../native/index.js';
import type { FlowQuery } from './types.js';

/** Flows with at least min_packets, highest sort_by first, at most limit of them. */
export function selectFlows(flows: FlowRecord[], query: FlowQuery): FlowRecord[] {
  const key: (f: FlowRecord) => number =
    query.sort_by === 'bytes'
      ? (f) => f.bytes
      : query.sort_by === 'duration'
        ? (f) => f.duration_sec
        : (f) => f.packets;
  return flows
    .filter((f) => f.packets >= query.min_packets)
    .sort((a, b) => key(b) - key(a))
    .slice(0, query.limit);
}
