import type {
  AgentMetrics,
  FlowRecordMessage,
  Heartbeat,
} from '../../../protocol/agent-messages.js';

/** A valid flow record; `n` varies the 5-tuple and counters. */
export function flowRecord(
  n: number,
  overrides: Partial<FlowRecordMessage> = {},
): FlowRecordMessage {
  const first = 1_767_225_600 + n;
  return {
    record_id: n.toString(16).padStart(32, '0'),
    flow_id: `f${n}`,
    ip_version: 4,
    src_ip: '10.0.0.1',
    dst_ip: `192.0.2.${n % 250}`,
    src_port: 40_000 + n,
    dst_port: 443,
    protocol: 6,
    vlan_id: 0,
    packets: 10 + n,
    bytes: 1000 * (n + 1),
    packets_fwd: 5 + n,
    packets_rev: 5,
    bytes_fwd: 600 * (n + 1),
    bytes_rev: 400 * (n + 1),
    first_seen: first,
    last_seen: first + 2.5,
    duration_sec: 2.5,
    tcp_flags: 'SYN,ACK,FIN',
    state: 'CLOSED',
    end_reason: 'fin_rst',
    ...overrides,
  };
}

export function heartbeat(sentAt: number, overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    schema: 'wirefleet.heartbeat/1',
    sent_at: sentAt,
    version: '0.1.0',
    uptime_sec: 12,
    interval_sec: 30,
    backend: 'afpacket',
    capture: { running: true, interface: 'eth0' },
    rlocs: [{ address: '198.51.100.7', priority: 1, weight: 100 }],
    eid_prefixes: ['10.1.0.0/16'],
    ...overrides,
  };
}

export function metrics(sentAt: number): AgentMetrics {
  return {
    schema: 'wirefleet.metrics/1',
    sent_at: sentAt,
    capture: {
      running: true,
      packets_captured: 1000,
      packets_dropped: 2,
      bytes_captured: 640_000,
      drop_rate: 0.2,
      packet_rate_pps: 120.5,
      throughput_mbps: 0.6,
      buffer_usage_pct: 3,
      parse_errors: 0,
    },
    flows: { active: 4, emitted: 20, evictions: 0 },
    spool: { depth_batches: 0, depth_bytes: 0, dropped_batches: 0, dropped_records: 0 },
    uplink: { connected: true, published: 30, acked: 30, reconnects: 1 },
  };
}
