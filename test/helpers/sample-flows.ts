import { packFlowBatches } from '../../agent/batcher.js';
import type { DiskSpool } from '../../agent/spool.js';
import type { FlowRecord } from '../../native/index.js';

/**
 * `count` distinct, ended TCP flows in the engine's record shape (flow i has
 * source 10.x.y.z from i), for the spool, batcher, uplink and benchmarks.
 */
export function sampleFlows(count: number, offset = 0, firstSeen = 1_700_000_000): FlowRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + offset;
    const first = firstSeen + i / 1000;
    return {
      flow_id: (i + 1).toString(16).padStart(16, '0'),
      ip_version: 4 as const,
      src_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      dst_ip: '192.0.2.10',
      src_port: 1024 + (i % 60_000),
      dst_port: 443,
      protocol: 6,
      vlan_id: 0,
      packets: 10,
      bytes: 15_000,
      packets_fwd: 6,
      packets_rev: 4,
      bytes_fwd: 10_000,
      bytes_rev: 5000,
      first_seen: first,
      last_seen: first + 1,
      duration_sec: 1,
      tcp_flags: 'SYN|ACK|FIN',
      state: 'CLOSED' as const,
      end_reason: 'fin_rst' as const,
    };
  });
}

/** Spools `flows` for `agentId` as flow batches; returns the record count. */
export async function spoolFlows(
  spool: DiskSpool,
  agentId: string,
  flows: FlowRecord[],
  maxRecords = 100,
): Promise<number> {
  let records = 0;
  for (const batch of packFlowBatches(agentId, flows, { maxRecords })) {
    await spool.append('flows', batch.payload, { records: batch.records });
    records += batch.records;
  }
  return records;
}

/** Waits (polling every 20 ms) until a synchronous check holds. */
export async function waitFor(
  what: string,
  check: () => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
