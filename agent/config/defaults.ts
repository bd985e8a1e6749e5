export const DEFAULT_STATE_DIR = '/var/lib/wirefleet-agent';
export const DEFAULT_CONFIG_PATH = '/etc/wirefleet/agent.json';

export const configDefaults = {
  mqtt: { keepalive_sec: 30, reconnect_min_ms: 500, reconnect_max_ms: 30_000 },
  capture: {
    backend: 'afpacket',
    buffer_size_mb: 64,
    snaplen: 262_144,
    filter: '',
    timestamp_source: 'kernel',
    promiscuous: false,
    autostart: true,
    replay_loop_sec: 0,
  },
  flows: {
    table_size: 65_536,
    idle_timeout_sec: 30,
    active_timeout_sec: 120,
    summary_interval_sec: 5,
    batch_max_records: 500,
  },
  spool: { dir: `${DEFAULT_STATE_DIR}/spool`, max_size_mb: 256 },
  control: {
    enabled: true,
    listen: '127.0.0.1:8001',
    token_file: '/etc/wirefleet/control-token',
  },
  heartbeat: { interval_sec: 10, metrics_interval_sec: 10 },
  alerts: { drop_rate_pct: 1.0 },
  integrity: { public_key_file: '/etc/wirefleet/addon-signing.pub', allow_unsigned: false },
  log: { level: 'info' },
  evidence: {
    enabled: false,
    cipher: 'AES-256-GCM',
    max_spool_mb: 1024,
    segment_mb: 16,
    segment_seconds: 60,
  },
} as const;

/** A config file that cannot be read or is wrong; the message names the file and the field. */
export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`agent config ${file}: ${field ? `${field}: ` : ''}${detail}`);
  }
}
