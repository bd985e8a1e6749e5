import path from 'node:path';
import { AgentConfigError, configDefaults } from './defaults.js';
import { lineAndColumn, stripJsonComments } from './jsonc.js';
import { describeIssue, type FileConfig, fileSchema } from './schema.js';
import { parseListen } from './values.js';

/** The loaded config: the file's shape with defaults filled in, paths absolute, secrets read. */
export interface AgentConfig {
  /** Where it came from (for messages); absolute. */
  source: string;
  agent_id: string;
  mqtt: Omit<FileConfig['mqtt'], 'client_id' | 'username' | 'password' | 'password_file'> & {
    /** mqtt.client_id, or agent_id when the file leaves it out. */
    client_id: string;
    username: string;
    /** Inline, or read from password_file at load; null for none. */
    password: string | null;
    password_file: string | null;
    /** Contents of ca_file / cert_file / key_file, read at load. */
    ca: Buffer | null;
    cert: Buffer | null;
    key: Buffer | null;
  };
  capture: Omit<FileConfig['capture'], 'backend'> & { backend: 'afpacket' | 'libpcap' | 'file' };
  flows: FileConfig['flows'];
  spool: FileConfig['spool'];
  control: FileConfig['control'] & { host: string; port: number };
  heartbeat: FileConfig['heartbeat'];
  alerts: FileConfig['alerts'];
  integrity: FileConfig['integrity'];
  log: FileConfig['log'];
  evidence: Omit<FileConfig['evidence'], 'spool_dir'> & { spool_dir: string };
  tango: FileConfig['tango'];
}

/**
 * Parses and validates config text. Files it names are not read here (see
 * loadAgentConfig), so mqtt.password is only the inline one and TLS buffers are null.
 */
export function parseAgentConfig(
  text: string,
  options: { baseDir: string; source?: string },
): AgentConfig {
  const source = options.source ?? path.join(options.baseDir, '(config)');
  const fail = (field: string | undefined, detail: string): never => {
    throw new AgentConfigError(source, field, detail);
  };
  let raw: unknown;
  let stripped: string;
  try {
    stripped = stripJsonComments(text);
  } catch (error) {
    return fail(undefined, (error as Error).message);
  }
  try {
    raw = JSON.parse(stripped);
  } catch (error) {
    const message = (error as Error).message;
    const at = /at position (\d+)/.exec(message);
    const where = at ? ` at ${lineAndColumn(stripped, Number(at[1]))}` : '';
    return fail(
      undefined,
      `not valid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/s, '')}`,
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail(undefined, 'must be a JSON object');
  }
  const parsed = fileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const { field, detail } = describeIssue(first);
    const more = parsed.error.issues.length - 1;
    return fail(
      field || undefined,
      `${detail}${more > 0 ? ` (and ${more} more problem${more > 1 ? 's' : ''})` : ''}`,
    );
  }
  const c = parsed.data;
  const abs = (p: string) => path.resolve(options.baseDir, p);
  const absOrNull = (p: string | null) => (p === null ? null : abs(p));

  // Rules across fields, which the schema cannot say on its own.
  const { mqtt, capture } = c;
  if (mqtt.password !== undefined && mqtt.password_file !== undefined) {
    fail('mqtt.password_file', 'give mqtt.password or mqtt.password_file, not both');
  }
  if ((mqtt.cert_file === null) !== (mqtt.key_file === null)) {
    fail(
      mqtt.cert_file === null ? 'mqtt.cert_file' : 'mqtt.key_file',
      'mqtt.cert_file and mqtt.key_file go together',
    );
  }
  const tls = /^(mqtts|wss):/.test(mqtt.url);
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    if (mqtt[key] !== null && !tls) fail(`mqtt.${key}`, 'TLS files need an mqtts:// or wss:// URL');
  }
  if (mqtt.reconnect_max_ms < mqtt.reconnect_min_ms) {
    fail('mqtt.reconnect_max_ms', 'must be at least mqtt.reconnect_min_ms');
  }
  if ((capture.interface === null) === (capture.file === null)) {
    fail('capture', 'give exactly one of capture.interface and capture.file');
  }
  let backend: AgentConfig['capture']['backend'];
  if (capture.file !== null) {
    if (capture.backend !== undefined && capture.backend !== 'file') {
      fail('capture.backend', `must be "file" (or left out) with capture.file`);
    }
    backend = 'file';
  } else {
    if (capture.backend === 'file') fail('capture.backend', '"file" needs capture.file');
    if (capture.replay_loop_sec !== 0)
      fail('capture.replay_loop_sec', 'only applies with capture.file');
    backend = capture.backend ?? configDefaults.capture.backend;
  }
  if (c.flows.active_timeout_sec < c.flows.idle_timeout_sec) {
    fail('flows.active_timeout_sec', 'must be at least flows.idle_timeout_sec');
  }
  if (c.evidence.enabled && c.evidence.key_file === null) {
    fail('evidence.key_file', 'recording (evidence.enabled) needs a key file');
  }
  if (c.evidence.segment_mb > c.evidence.max_spool_mb) {
    fail('evidence.max_spool_mb', 'must hold at least one segment (evidence.segment_mb)');
  }
  const listen = parseListen(c.control.listen)!;

  return {
    source,
    agent_id: c.agent_id,
    mqtt: {
      url: mqtt.url,
      client_id: mqtt.client_id ?? c.agent_id,
      username: mqtt.username ?? c.agent_id,
      password: mqtt.password ?? null,
      password_file: mqtt.password_file === undefined ? null : abs(mqtt.password_file),
      ca_file: absOrNull(mqtt.ca_file),
      cert_file: absOrNull(mqtt.cert_file),
      key_file: absOrNull(mqtt.key_file),
      ca: null,
      cert: null,
      key: null,
      keepalive_sec: mqtt.keepalive_sec,
      reconnect_min_ms: mqtt.reconnect_min_ms,
      reconnect_max_ms: mqtt.reconnect_max_ms,
    },
    capture: { ...capture, file: absOrNull(capture.file), backend },
    flows: c.flows,
    spool: { ...c.spool, dir: abs(c.spool.dir) },
    control: { ...c.control, token_file: abs(c.control.token_file), ...listen },
    heartbeat: c.heartbeat,
    alerts: c.alerts,
    integrity: {
      ...c.integrity,
      public_key_file: abs(c.integrity.public_key_file),
      signature_file: absOrNull(c.integrity.signature_file),
    },
    log: { ...c.log, audit_file: absOrNull(c.log.audit_file) },
    evidence: {
      ...c.evidence,
      key_file: absOrNull(c.evidence.key_file),
      spool_dir:
        c.evidence.spool_dir === undefined
          ? path.join(path.dirname(abs(c.spool.dir)), 'evidence')
          : abs(c.evidence.spool_dir),
    },
    tango: { ...c.tango, secret_file: absOrNull(c.tango.secret_file) },
  };
}
