import type { AgentMetrics, Heartbeat } from '../protocol/agent-messages.js';
import type { AgentConfig } from './config.js';

/** What the heartbeat and metrics messages are built from; pure, so they are easy to test. */
export interface CaptureStatusView {
  running: boolean;
  interface?: string | null | undefined;
  backend?: string | null | undefined;
  file?: string | null | undefined;
}

export interface CaptureMetricsView {
  packets_captured: number;
  packets_dropped: number;
  bytes_captured: number;
  drop_rate: number;
  packet_rate_pps: number;
  throughput_mbps: number;
  buffer_usage_pct: number;
  active_flows: number;
  total_flows: number;
  parse_errors?: number;
  evictions?: number;
}

export function buildHeartbeat(input: {
  config: AgentConfig;
  version: string;
  startedAt: number;
  status: CaptureStatusView;
  now?: number;
}): Heartbeat {
  const now = input.now ?? Date.now();
  const { config, status } = input;
  return {
    schema: 'wirefleet.heartbeat/1',
    sent_at: now / 1000,
    version: input.version,
    uptime_sec: Math.max(0, (now - input.startedAt) / 1000),
    interval_sec: config.heartbeat.interval_sec,
    backend:
      status.backend ?? config.capture.backend ?? (config.capture.file ? 'file' : 'afpacket'),
    capture: {
      running: status.running,
      ...(status.interface ? { interface: status.interface } : {}),
      ...(status.file ? { file: status.file } : {}),
    },
    rlocs: config.heartbeat.rlocs.map((rloc) => ({
      address: rloc.address,
      priority: rloc.priority ?? 1,
      weight: rloc.weight ?? 100,
    })),
    eid_prefixes: [...config.heartbeat.eid_prefixes],
  };
}

const whole = (value: number | undefined) => Math.max(0, Math.round(value ?? 0));
const clampPct = (value: number) => Math.min(100, Math.max(0, Number.isFinite(value) ? value : 0));

export function buildMetrics(input: {
  controller: CaptureMetricsView;
  running: boolean;
  spool: AgentMetrics['spool'];
  uplink: { connected: boolean; published: number; acked: number; reconnects: number };
  now?: number;
}): AgentMetrics {
  const m = input.controller;
  return {
    schema: 'wirefleet.metrics/1',
    sent_at: (input.now ?? Date.now()) / 1000,
    capture: {
      running: input.running,
      packets_captured: whole(m.packets_captured),
      packets_dropped: whole(m.packets_dropped),
      bytes_captured: whole(m.bytes_captured),
      drop_rate: clampPct(m.drop_rate),
      packet_rate_pps: Math.max(0, m.packet_rate_pps || 0),
      throughput_mbps: Math.max(0, m.throughput_mbps || 0),
      buffer_usage_pct: clampPct(m.buffer_usage_pct),
      parse_errors: whole(m.parse_errors),
    },
    flows: {
      active: whole(m.active_flows),
      emitted: whole(m.total_flows),
      evictions: whole(m.evictions),
    },
    spool: input.spool,
    uplink: {
      connected: input.uplink.connected,
      published: whole(input.uplink.published),
      acked: whole(input.uplink.acked),
      reconnects: whole(input.uplink.reconnects),
    },
  };
}
