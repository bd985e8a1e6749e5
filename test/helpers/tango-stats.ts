import { TANGO_REJECT_REASONS, type TangoPathStats } from '../../native/tango.js';

/** A path's counters as the C node reports them, all zero unless patched (unit tests). */
export function pathStats(patch: Partial<TangoPathStats> = {}): TangoPathStats {
  return {
    configured: true,
    tx_packets: 0,
    tx_bytes: 0,
    tx_next_seq: 0,
    rx_packets: 0,
    rx_bytes: 0,
    rx_expected: 0,
    rx_lost: 0,
    rx_reordered: 0,
    rx_resyncs: 0,
    rx_top_seq: 0,
    rx_last_ns: 0,
    delay_samples: 0,
    delay_last_ns: 0,
    delay_min_ns: 0,
    delay_max_ns: 0,
    delay_sum_ns: 0,
    jitter_ns: 0,
    rejects: Object.fromEntries(
      TANGO_REJECT_REASONS.map((r) => [r, 0]),
    ) as TangoPathStats['rejects'],
    ...patch,
  };
}
