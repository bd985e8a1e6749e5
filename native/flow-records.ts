import { formatIPv4, formatIPv6 } from '../protocol/address.js';
import { formatTcpFlags } from '../protocol/tcp.js';
import type { EndReason, FlowRecord, FlowState } from './index.js';

/** Byte offsets of wf_flow_record's fields, as the addon reports them (offsetof). */
export interface FlowRecordLayout {
  size: number;
  flow_id: number;
  family: number;
  protocol: number;
  vlan_id: number;
  src: number;
  dst: number;
  src_port: number;
  dst_port: number;
  packets_fwd: number;
  packets_rev: number;
  bytes_fwd: number;
  bytes_rev: number;
  first_ns: number;
  last_ns: number;
  tcp_flags: number;
  state: number;
  end_reason: number;
}

const STATES: FlowState[] = ['ACTIVE', 'CLOSING', 'CLOSED'];
const END_REASONS: (EndReason | null)[] = [
  null,
  'idle',
  'active',
  'fin_rst',
  'end_of_capture',
  'evicted',
];

/** Whole microseconds as epoch seconds: a double holds epoch time to about 0.2 µs. */
const seconds = (ns: bigint) => Number(ns / 1000n) / 1e6;

/** Decodes the packed wf_flow_record array the engine hands over (host byte order). */
export function decodeFlowRecords(buffer: ArrayBuffer, layout: FlowRecordLayout): FlowRecord[] {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const count = Math.floor(buffer.byteLength / layout.size);
  const records: FlowRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * layout.size;
    const u64 = (field: number) => view.getBigUint64(at + field, true);
    const family = view.getUint8(at + layout.family) === 6 ? 6 : 4;
    const address = (field: number) =>
      family === 6 ? formatIPv6(bytes, at + field) : formatIPv4(bytes, at + field);
    const packetsFwd = Number(u64(layout.packets_fwd));
    const packetsRev = Number(u64(layout.packets_rev));
    const bytesFwd = Number(u64(layout.bytes_fwd));
    const bytesRev = Number(u64(layout.bytes_rev));
    const firstNs = u64(layout.first_ns);
    const lastNs = u64(layout.last_ns);
    records[i] = {
      flow_id: u64(layout.flow_id).toString(16).padStart(16, '0'),
      ip_version: family,
      src_ip: address(layout.src),
      dst_ip: address(layout.dst),
      src_port: view.getUint16(at + layout.src_port, true),
      dst_port: view.getUint16(at + layout.dst_port, true),
      protocol: view.getUint8(at + layout.protocol),
      vlan_id: view.getUint16(at + layout.vlan_id, true),
      packets: packetsFwd + packetsRev,
      bytes: bytesFwd + bytesRev,
      packets_fwd: packetsFwd,
      packets_rev: packetsRev,
      bytes_fwd: bytesFwd,
      bytes_rev: bytesRev,
      first_seen: seconds(firstNs),
      last_seen: seconds(lastNs),
      duration_sec: seconds(lastNs - firstNs),
      tcp_flags: formatTcpFlags(view.getUint8(at + layout.tcp_flags)),
      state: STATES[view.getUint8(at + layout.state)] ?? 'ACTIVE',
      end_reason: END_REASONS[view.getUint8(at + layout.end_reason)] ?? null,
    };
  }
  return records;
}
