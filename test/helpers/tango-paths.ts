import type { TangoPath, TangoPathsMessage } from '../../protocol/tango-paths.js';

/** One measured path; `id` varies the addresses. */
export function tangoPath(id: number, overrides: Partial<TangoPath> = {}): TangoPath {
  return {
    path_id: id,
    local_address: `fd00:${id}::1`,
    peer_address: `fd00:${id}::2`,
    peer_rloc: '198.51.100.7',
    delay_ms: 10 + id,
    jitter_ms: 0.5,
    loss: 0,
    reorder: 0,
    packets: 1000,
    throughput_bps: 8_000_000,
    ...overrides,
  };
}

/** A valid paths message sent at `sentAt` with the given paths. */
export function pathsMessage(
  sentAt: number,
  paths: TangoPath[] = [tangoPath(0), tangoPath(1)],
  overrides: Partial<TangoPathsMessage> = {},
): TangoPathsMessage {
  return {
    schema: 'wirefleet.paths/1',
    sent_at: sentAt,
    interval_s: 5,
    peer: { agent_id: 'site-b', name: 'site B' },
    paths,
    ...overrides,
  };
}
