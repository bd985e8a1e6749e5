import { captureBackends } from '../../native/index.js';
import { toControlError } from './errors.js';
import type { BackendsResult } from './types.js';

/**
 * The seed's backend list, from what the native engine reports it can run here (with its
 * reason when it cannot). No throughput or CPU figures: none were measured on this host.
 */
export function backendsReport(): BackendsResult {
  let list: ReturnType<typeof captureBackends>;
  try {
    list = captureBackends();
  } catch (error) {
    throw toControlError(error);
  }
  const all = list.some((b) => b.name === 'file')
    ? list
    : [{ name: 'file', status: 'available' as const, detail: 'pcap and pcapng files' }, ...list];
  return {
    available_backends: all.map((b) => ({
      name: b.name,
      status: b.status,
      detail: b.detail,
      max_throughput_gbps: null,
      cpu_overhead_pct: null,
    })),
    note: 'throughput and CPU overhead are not measured per host; see the README benchmarks',
  };
}
