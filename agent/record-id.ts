import { createHash } from 'node:crypto';
import type { FlowRecord } from '../native/index.js';

/**
 * A record id derived from the flow itself: the same flow, metered again after
 * a crash or replayed from the spool, gets the same id, so the cloud's
 * conditional writes keep exactly one copy. The agent id is mixed in because
 * two agents may see the same conversation.
 */
export function flowRecordId(agentId: string, flow: FlowRecord): string {
  const key = [
    agentId,
    flow.ip_version,
    flow.src_ip,
    flow.dst_ip,
    flow.src_port,
    flow.dst_port,
    flow.protocol,
    flow.vlan_id,
    flow.first_seen.toFixed(6),
    flow.end_reason ?? 'active',
  ].join('|');
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}
