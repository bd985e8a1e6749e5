import type { TimestampSource } from '../../native/capture.js';
import type { FlowRecord } from '../../native/index.js';
import type { CaptureStartParams, MeterConfigureParams } from '../../protocol/agent-messages.js';

/** Capture settings from the agent's config; start() parameters override them per session. */
export interface CaptureDefaults {
  interface?: string | null | undefined;
  file?: string | null | undefined;
  backend: 'afpacket' | 'libpcap' | 'file';
  buffer_size_mb: number;
  /** 0 = whole packets. */
  snaplen: number;
  /** tcpdump expression; '' = everything. */
  filter: string;
  timestamp_source: TimestampSource;
  promiscuous: boolean;
  /** File sessions: re-read the file every N s; 0 = read it once. */
  replay_loop_sec: number;
}

export interface FlowDefaults {
  table_size: number;
  idle_timeout_sec: number;
  active_timeout_sec: number;
  /** How often ended flows are taken from a live capture and handed to onFlows. */
  summary_interval_sec: number;
}

export type EventSeverity = 'info' | 'warning' | 'critical';
export type EventType = 'capture_started' | 'capture_stopped' | 'capture_failed' | 'drop_rate_high';

/**
 * The native engine's (the "firmware's") Ed25519 signature check, done by agent/integrity.ts;
 * structurally its AddonVerification.
 */
export interface FirmwareResult {
  status: 'valid' | 'invalid' | 'unsigned';
  algorithm?: 'Ed25519';
  key_fingerprint?: string | null;
  addon_sha256?: string;
  message: string;
}

/** A check as the controller reports it: when it ran (epoch seconds). */
export interface FirmwareReport extends FirmwareResult {
  verified_at: number;
}

export interface StartResult {
  status: 'started';
  interface: string | null;
  backend: string;
  buffer_size_mb: number;
  timestamp_source: string;
  session_id: string;
  file?: string;
  /** This session records encrypted evidence segments (live capture with recording on). */
  recording?: boolean;
}

export interface StopResult {
  status: 'stopped';
  packets_captured: number;
  packets_dropped: number;
  bytes_captured: number;
  duration_sec: number;
  /** Percent, 0..100. */
  drop_rate: number;
  /** Active flows not delivered because the stop was not graceful. */
  flows_discarded: number;
}

export interface CaptureStatus {
  running: boolean;
  interface: string | null;
  backend: string;
  buffer_size_mb: number;
  uptime_sec: number;
  /** The engine meters every session into flows; there is no capture without a meter. */
  flow_metering_enabled: boolean;
  /** Evidence recording is on (key loaded); `recording` says whether this session records. */
  encryption_enabled: boolean;
  recording?: boolean;
  netflow_enabled: boolean;
  session_id?: string;
  file?: string;
  filter?: string;
}

/** Counters of one session, in the API's units (drop_rate in percent). */
export interface SessionCounters {
  packets_captured: number;
  packets_dropped: number;
  bytes_captured: number;
  drop_rate: number;
  active_flows: number;
  total_flows: number;
  throughput_mbps: number;
  buffer_usage_pct: number;
  packet_rate_pps: number;
  capture_duration_sec: number;
  parse_errors: number;
  evictions: number;
}

export interface CaptureMetrics extends SessionCounters {
  running: boolean;
  throughput_gbps: number;
  /** Epoch seconds. */
  timestamp: number;
}

export interface MeterConfigureResult {
  status: 'enabled';
  table_size: number;
  idle_timeout_sec: number;
  active_timeout_sec: number;
  export_interval_sec: number;
  /** When the table settings take effect; the export interval always applies at once. */
  applies: 'now' | 'next_start';
  note?: string;
}

export interface FlowQuery {
  limit: number;
  min_packets: number;
  sort_by: 'packets' | 'bytes' | 'duration';
}

export interface NetflowParams {
  collector_ip: string;
  collector_port: number;
  export_interval_sec: number;
  netflow_version: 5 | 10;
}

export interface NetflowResult {
  status: 'enabled' | 'disabled';
  collector_ip?: string;
  collector_port?: number;
  export_interval_sec?: number;
  netflow_version?: 5 | 10;
  applies?: 'now' | 'next_file_run';
}

export interface BackendEntry {
  name: string;
  status: 'available' | 'unavailable';
  detail: string;
  /** Not measured on this host: null rather than a brochure figure. */
  max_throughput_gbps: null;
  cpu_overhead_pct: null;
}

export interface BackendsResult {
  available_backends: BackendEntry[];
  note: string;
}

/** What the control API (and the cloud command handler) drive; CaptureController implements it. */
export interface CaptureControl {
  backends(): BackendsResult;
  start(params: Partial<CaptureStartParams>, actor: string): Promise<StartResult>;
  stop(options: { graceful?: boolean | undefined }, actor: string): Promise<StopResult>;
  status(): CaptureStatus;
  metrics(): CaptureMetrics;
  configureMeter(params: MeterConfigureParams, actor: string): MeterConfigureResult;
  flows(query: FlowQuery): FlowRecord[];
  enableNetflow(params: NetflowParams, actor: string): NetflowResult;
  disableNetflow(actor: string): NetflowResult;
  verifyFirmware(): FirmwareReport;
}

export const ZERO_COUNTERS: SessionCounters = {
  packets_captured: 0,
  packets_dropped: 0,
  bytes_captured: 0,
  drop_rate: 0,
  active_flows: 0,
  total_flows: 0,
  throughput_mbps: 0,
  buffer_usage_pct: 0,
  packet_rate_pps: 0,
  capture_duration_sec: 0,
  parse_errors: 0,
  evictions: 0,
};
