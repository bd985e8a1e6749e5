/**
 * The Agents page's data logic: API shapes, the metrics series, event pages,
 * command bodies and a command's progress. Pure (no DOM, no React):
 * unit-tested in node (test/unit/web/pages/agent-logic.test.ts).
 */

export type AgentStatus = 'online' | 'offline' | 'never_seen';

/** A part of the agent page that loads on its own: its failure shows in its panel, not over the page. */
export interface Part<T> {
  value?: T;
  error?: Error;
}

/** Events per page on the agent page. */
export const EVENTS_PAGE = 25;

/** GET /agents items (functions/api/routes/agents.ts agentSummary). */
export interface AgentSummary {
  agent_id: string;
  status: AgentStatus;
  created_at: string;
  /** Epoch seconds of the latest heartbeat (server clock). */
  last_seen: number | null;
  version: string | null;
  backend: string | null;
  capture_running: boolean | null;
}

export interface AgentLocator {
  address: string;
  priority: number;
  weight: number;
}

export interface MetricsSample {
  sent_at: number;
  capture: {
    running: boolean;
    packets_captured: number;
    packets_dropped: number;
    bytes_captured: number;
    drop_rate: number;
    packet_rate_pps: number;
    throughput_mbps: number;
    buffer_usage_pct: number;
    parse_errors: number;
  };
  flows: { active: number; emitted: number; evictions: number };
  spool: {
    depth_batches: number;
    depth_bytes: number;
    dropped_batches: number;
    dropped_records: number;
    rejected_batches?: number;
  };
  uplink: { connected: boolean; published: number; acked: number; reconnects: number };
}

/** GET /agents/{id} (agentDetail). */
export interface AgentDetail extends Omit<AgentSummary, 'capture_running'> {
  uptime_sec: number | null;
  interval_sec: number | null;
  capture: { running: boolean; interface?: string; file?: string } | null;
  rlocs: AgentLocator[];
  eid_prefixes: string[];
  metrics: MetricsSample | null;
  metrics_at: number | null;
  credentials: {
    login: 'certificate' | 'password' | 'none';
    certificate: {
      certificate_id: string;
      status: 'ACTIVE' | 'INACTIVE';
      issued_at: string;
      not_after: string | null;
    } | null;
  };
}

export interface AgentEvent {
  event_id: string;
  sent_at: number;
  type: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  details?: Record<string, unknown>;
}

export type CommandStatus = 'pending' | 'ok' | 'error' | 'expired';

/** GET /agents/{id}/commands/{commandId} (commandView). */
export interface AgentCommand {
  command_id: string;
  agent_id: string;
  action: string;
  params: Record<string, unknown>;
  issued_at: number;
  status: CommandStatus;
  reply: {
    status: 'ok' | 'error';
    replied_at: number;
    result?: Record<string, unknown>;
    error?: { code: string; message: string };
  } | null;
  replied_at: number | null;
}

export const STATUS_LABELS: Record<AgentStatus, string> = {
  online: 'online',
  offline: 'offline',
  never_seen: 'never seen',
};

export const STATUS_BADGES: Record<AgentStatus, string> = {
  online: 'badge-ok',
  offline: 'badge-danger',
  never_seen: 'badge-warn',
};

/** One point of the metrics charts: rates between two samples, at the later one's time. */
export interface RatePoint {
  /** Epoch milliseconds. */
  t: number;
  packetsPerSec: number;
  dropsPerSec: number;
  bitsPerSec: number;
}

/**
 * Packets, drops and bits per second from the counters of consecutive
 * samples, as an SNMP poller derives rates: a counter that went down (a new
 * capture session) restarts from zero, so the rate is its new value over the
 * interval. Samples arrive newest first; points come out oldest first.
 */
export function rateSeries(samples: readonly MetricsSample[]): RatePoint[] {
  const ordered = [...samples].sort((a, b) => a.sent_at - b.sent_at);
  const points: RatePoint[] = [];
  for (let i = 1; i < ordered.length; i++) {
    const prev = ordered[i - 1]!;
    const cur = ordered[i]!;
    const dt = cur.sent_at - prev.sent_at;
    if (!(dt > 0)) continue;
    const delta = (now: number, before: number) => (now >= before ? now - before : now);
    points.push({
      t: cur.sent_at * 1000,
      packetsPerSec: delta(cur.capture.packets_captured, prev.capture.packets_captured) / dt,
      dropsPerSec: delta(cur.capture.packets_dropped, prev.capture.packets_dropped) / dt,
      bitsPerSec: (delta(cur.capture.bytes_captured, prev.capture.bytes_captured) * 8) / dt,
    });
  }
  return points;
}

/** The newest page of events, then older pages the user loaded, each event once. */
export function mergeEvents(
  newest: readonly AgentEvent[],
  older: readonly AgentEvent[],
): AgentEvent[] {
  const seen = new Set<string>();
  const merged: AgentEvent[] = [];
  for (const event of [...newest, ...older]) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    merged.push(event);
  }
  return merged;
}

export const SEVERITY_BADGES: Record<AgentEvent['severity'], string> = {
  info: '',
  warning: 'badge-warn',
  critical: 'badge-danger',
};

/** What the command panel offers: the actions the API accepts and the agent carries out. */
export const COMMAND_ACTIONS = [
  { value: 'status', label: 'Status (capture state and counters)' },
  { value: 'capture.start', label: 'Start capture' },
  { value: 'capture.stop', label: 'Stop capture' },
  { value: 'meter.configure', label: 'Configure the flow meter' },
  { value: 'evidence.enable', label: 'Record evidence (encrypted packets)' },
] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number]['value'];

/** The ciphers evidence segments are sealed with (protocol/evidence/format.ts). */
export const EVIDENCE_CIPHERS = ['AES-256-GCM', 'AES-128-GCM', 'ChaCha20-Poly1305'] as const;
export type EvidenceCipher = (typeof EVIDENCE_CIPHERS)[number];

/** The command form: every field as typed, numbers too. */
export interface CommandForm {
  action: CommandAction;
  interface: string;
  backend: '' | 'afpacket' | 'libpcap' | 'file';
  filter_expr: string;
  snaplen: string;
  buffer_size_mb: string;
  graceful: boolean;
  idle_timeout_sec: string;
  active_timeout_sec: string;
  export_interval_sec: string;
  table_size: string;
  /** evidence.enable: '' keeps the agent's configured cipher. */
  cipher_suite: '' | EvidenceCipher;
}

export const EMPTY_COMMAND_FORM: CommandForm = {
  action: 'status',
  interface: '',
  backend: '',
  filter_expr: '',
  snaplen: '',
  buffer_size_mb: '',
  graceful: true,
  idle_timeout_sec: '',
  active_timeout_sec: '',
  export_interval_sec: '',
  table_size: '',
  cipher_suite: '',
};

export type CommandFormErrors = Partial<Record<keyof CommandForm, string>>;

/** Integer bounds of the numeric parameters (protocol/agent-messages.ts). */
const INTEGER_PARAMS = {
  snaplen: [0, 262_144],
  buffer_size_mb: [1, 4096],
  idle_timeout_sec: [1, 86_400],
  active_timeout_sec: [1, 86_400],
  export_interval_sec: [1, 3600],
  table_size: [4096, 16_777_216],
} as const satisfies Partial<Record<keyof CommandForm, readonly [number, number]>>;

export type CommandBuild =
  | { ok: true; body: { action: CommandAction; params: Record<string, unknown> } }
  | { ok: false; errors: CommandFormErrors };

/**
 * The POST /agents/{id}/commands body for the form: empty fields are left
 * out (the agent's configured defaults apply). Numbers are checked here,
 * where the user typed them; the API validates the rest.
 */
export function buildCommand(form: CommandForm): CommandBuild {
  const params: Record<string, unknown> = {};
  const errors: CommandFormErrors = {};
  const integer = (key: keyof typeof INTEGER_PARAMS) => {
    const text = form[key].trim();
    if (text === '') return;
    const [min, max] = INTEGER_PARAMS[key];
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      errors[key] =
        `a whole number from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`;
      return;
    }
    params[key] = value;
  };
  switch (form.action) {
    case 'status':
      break;
    case 'capture.start': {
      const iface = form.interface.trim();
      if (iface) {
        if (iface.length > 15) errors.interface = 'at most 15 characters (a Linux interface name)';
        else params.interface = iface;
      }
      if (form.backend) params.backend = form.backend;
      if (form.filter_expr.trim()) params.filter_expr = form.filter_expr.trim();
      integer('snaplen');
      integer('buffer_size_mb');
      break;
    }
    case 'capture.stop':
      params.graceful = form.graceful;
      break;
    case 'meter.configure':
      integer('idle_timeout_sec');
      integer('active_timeout_sec');
      integer('export_interval_sec');
      integer('table_size');
      break;
    case 'evidence.enable':
      if (form.cipher_suite) params.cipher_suite = form.cipher_suite;
      break;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, body: { action: form.action, params } };
}

/** How long the panel waits for a reply before it says so (the command stays queued). */
export const REPLY_WAIT_MS = 30_000;

export type CommandProgress =
  | { state: 'pending'; waitedMs: number }
  | { state: 'no_reply'; waitedMs: number }
  | { state: 'ok'; result: Record<string, unknown> }
  | { state: 'error'; code: string; message: string }
  | { state: 'expired' };

/**
 * Where a sent command stands: the API's status, or 'no_reply' once the
 * panel has waited `waitMs` without one (the agent may be offline; the API
 * marks the command expired after 11 minutes).
 */
export function commandProgress(
  command: AgentCommand | undefined,
  waitedMs: number,
  waitMs = REPLY_WAIT_MS,
): CommandProgress {
  if (command?.status === 'ok') return { state: 'ok', result: command.reply?.result ?? {} };
  if (command?.status === 'error') {
    return {
      state: 'error',
      code: command.reply?.error?.code ?? 'error',
      message: command.reply?.error?.message ?? 'the agent reported an error without a message',
    };
  }
  if (command?.status === 'expired') return { state: 'expired' };
  return waitedMs >= waitMs ? { state: 'no_reply', waitedMs } : { state: 'pending', waitedMs };
}

export type ResultValue = string | number | boolean | null;

/**
 * A reply's result as rows: nested objects become dotted keys
 * (`metrics.packets_captured`), arrays are shown as JSON.
 */
export function flattenResult(
  result: Record<string, unknown>,
  prefix = '',
): [string, ResultValue][] {
  const rows: [string, ResultValue][] = [];
  for (const [key, value] of Object.entries(result)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      rows.push(...flattenResult(value as Record<string, unknown>, name));
    } else if (
      value === null ||
      typeof value === 'string' ||
      typeof value === 'number' ||
      typeof value === 'boolean'
    ) {
      rows.push([name, value]);
    } else {
      rows.push([name, JSON.stringify(value) ?? String(value)]);
    }
  }
  return rows;
}

/** `{"reason": "end_of_file", "runs": 1}` → "reason=end_of_file runs=1", for an event's details. */
export function describeDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return flattenResult(details)
    .filter(([, value]) => value !== null && value !== '')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

/** Runs `work` on each item with at most `limit` at a time, in order of the items. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
