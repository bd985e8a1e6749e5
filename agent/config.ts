import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { agentIdSchema } from '../protocol/agent-messages.js';
import { readSecretBytes, readSecretFile, SecretFileError } from './secret-file.js';

/**
 * The agent's config file (/etc/wirefleet/agent.json): JSON with comments,
 * snake_case keys, strict (an unknown key is an error, so a typo cannot pass
 * silently). Relative paths resolve against the file's directory. Secret and
 * TLS files named in it are read when it loads, so a bad path fails at start.
 */

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

const int = (min: number, max: number) =>
  z
    .number()
    .int(`must be an integer ${min}-${max}`)
    .min(min, `must be an integer ${min}-${max}`)
    .max(max, `must be an integer ${min}-${max}`);
const pathString = z.string().min(1, 'must be a non-empty path').max(4096);
const optionalPath = pathString.nullable().default(null);

const MQTT_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
const URL_MESSAGE = 'must be an mqtt://, mqtts://, ws:// or wss:// URL';

const mqttUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: URL_MESSAGE });
    return;
  }
  if (!MQTT_PROTOCOLS.includes(url.protocol) || url.hostname === '') {
    ctx.addIssue({ code: 'custom', message: URL_MESSAGE });
  } else if (url.username || url.password) {
    ctx.addIssue({
      code: 'custom',
      message: 'must not carry credentials; use mqtt.username and mqtt.password_file',
    });
  }
});

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** "HOST:PORT" or "[IPv6]:PORT"; undefined when malformed. Port 0 asks for any free port. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  if (match[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4 && !HOSTNAME.test(host)) {
    return undefined;
  }
  return { host, port };
}

/** "a.b.c.d/len" with no host bits set; a message saying what is wrong, or undefined. */
export function ipv4PrefixProblem(value: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return `"${value}" is not an IPv4 prefix like 10.1.0.0/16`;
  const octets = match.slice(1, 5).map(Number);
  const len = Number(match[5]);
  if (octets.some((o) => o > 255) || len > 32) return `"${value}" is not a valid IPv4 prefix`;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - len);
  const network = address - (address % size);
  if (network !== address) {
    const fixed = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    return `"${value}" has host bits set; did you mean ${fixed}/${len}?`;
  }
  return undefined;
}

const locator = z.strictObject({
  address: z.string().refine((a) => isIP(a) !== 0, 'must be an IPv4 or IPv6 address'),
  priority: int(0, 255).default(1),
  weight: int(0, 255).default(100),
});

const d = configDefaults;
const fileSchema = z.strictObject({
  agent_id: agentIdSchema,
  mqtt: z.strictObject({
    url: mqttUrl,
    username: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(4096).optional(),
    password_file: pathString.optional(),
    ca_file: optionalPath,
    cert_file: optionalPath,
    key_file: optionalPath,
    keepalive_sec: int(0, 65_535).default(d.mqtt.keepalive_sec),
    reconnect_min_ms: int(100, 3_600_000).default(d.mqtt.reconnect_min_ms),
    reconnect_max_ms: int(100, 3_600_000).default(d.mqtt.reconnect_max_ms),
  }),
  capture: z
    .strictObject({
      interface: z
        .string()
        .regex(/^[^\s/:]{1,15}$/, 'must be a network interface name (1-15 characters)')
        .nullable()
        .default(null),
      file: optionalPath,
      backend: z.enum(['afpacket', 'libpcap', 'file']).optional(),
      buffer_size_mb: int(1, 4096).default(d.capture.buffer_size_mb),
      snaplen: int(64, 262_144).default(d.capture.snaplen),
      filter: z.string().max(4096).default(d.capture.filter),
      timestamp_source: z
        .enum(['kernel', 'adapter', 'adapter_unsynced'])
        .default(d.capture.timestamp_source),
      promiscuous: z.boolean().default(d.capture.promiscuous),
      autostart: z.boolean().default(d.capture.autostart),
      replay_loop_sec: int(0, 86_400).default(d.capture.replay_loop_sec),
    })
    .prefault({}),
  flows: z
    .strictObject({
      table_size: int(4096, 16_777_216).default(d.flows.table_size),
      idle_timeout_sec: int(1, 86_400).default(d.flows.idle_timeout_sec),
      active_timeout_sec: int(1, 86_400).default(d.flows.active_timeout_sec),
      summary_interval_sec: int(1, 3600).default(d.flows.summary_interval_sec),
      batch_max_records: int(1, 2000).default(d.flows.batch_max_records),
    })
    .prefault({}),
  spool: z
    .strictObject({
      dir: pathString.default(d.spool.dir),
      max_size_mb: int(1, 1_048_576).default(d.spool.max_size_mb),
    })
    .prefault({}),
  control: z
    .strictObject({
      enabled: z.boolean().default(d.control.enabled),
      listen: z
        .string()
        .refine((v) => parseListen(v) !== undefined, 'must be HOST:PORT, e.g. 127.0.0.1:8001')
        .default(d.control.listen),
      token_file: pathString.default(d.control.token_file),
    })
    .prefault({}),
  heartbeat: z
    .strictObject({
      interval_sec: int(1, 3600).default(d.heartbeat.interval_sec),
      metrics_interval_sec: int(1, 3600).default(d.heartbeat.metrics_interval_sec),
      rlocs: z.array(locator).max(64).default([]),
      eid_prefixes: z
        .array(
          z.string().superRefine((v, ctx) => {
            const problem = ipv4PrefixProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
        )
        .max(256)
        .default([]),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      drop_rate_pct: z
        .number()
        .min(0, 'must be a percentage 0-100')
        .max(100, 'must be a percentage 0-100')
        .default(d.alerts.drop_rate_pct),
    })
    .prefault({}),
  integrity: z
    .strictObject({
      public_key_file: pathString.default(d.integrity.public_key_file),
      signature_file: optionalPath,
      allow_unsigned: z.boolean().default(d.integrity.allow_unsigned),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error']).default(d.log.level),
      audit_file: optionalPath,
    })
    .prefault({}),
});

type FileConfig = z.infer<typeof fileSchema>;

/** The loaded config: the file's shape with defaults filled in, paths absolute, secrets read. */
export interface AgentConfig {
  /** Where it came from (for messages); absolute. */
  source: string;
  agent_id: string;
  mqtt: Omit<FileConfig['mqtt'], 'username' | 'password' | 'password_file'> & {
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
}

/**
 * JSONC to JSON: drops // and /* *\/ comments (outside strings; replaced by
 * spaces so positions and line numbers stay put) and trailing commas.
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '/' && text[i + 1] === '/') {
      let j = i;
      while (j < n && text[j] !== '\n') j++;
      out += ' '.repeat(j - i);
      i = j;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        const line = text.slice(0, i).split('\n').length;
        throw new SyntaxError(`unterminated /* comment starting on line ${line}`);
      }
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else {
      out += ch;
      i++;
    }
  }
  // Trailing commas: a comma followed only by whitespace before } or ].
  let result = '';
  for (let k = 0; k < out.length; k++) {
    const ch = out[k]!;
    if (ch === '"') {
      let j = k + 1;
      while (j < out.length && out[j] !== '"') j += out[j] === '\\' ? 2 : 1;
      result += out.slice(k, j + 1);
      k = j;
    } else if (ch === ',' && closesNext(out, k + 1)) {
      result += ' ';
    } else {
      result += ch;
    }
  }
  return result;
}

function closesNext(text: string, from: number): boolean {
  let j = from;
  while (j < text.length && /\s/.test(text[j]!)) j++;
  return text[j] === '}' || text[j] === ']';
}

const TYPE_NAMES: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

function describeIssue(issue: z.core.$ZodIssue): { field: string; detail: string } {
  const parts = issue.path.map(String);
  const field = (extra: string[] = []) =>
    [...parts, ...extra].reduce<string>(
      (acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p),
      '',
    );
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys;
      return {
        field: field([keys[0]!]),
        detail: `unknown key${keys.length > 1 ? ` (also: ${keys.slice(1).join(', ')})` : ''}`,
      };
    }
    case 'invalid_type':
      return {
        field: field(),
        detail:
          issue.input === undefined
            ? 'is required'
            : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`,
      };
    case 'invalid_value':
      return {
        field: field(),
        detail: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    default:
      return { field: field(), detail: issue.message };
  }
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line} column ${column}`;
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
  const listen = parseListen(c.control.listen)!;

  return {
    source,
    agent_id: c.agent_id,
    mqtt: {
      url: mqtt.url,
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
  };
}

/** Reads, validates and completes the config: secret and TLS files are read now. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AgentConfigError(
      source,
      undefined,
      code === 'ENOENT'
        ? 'does not exist (create one with: wirefleet agent init)'
        : `cannot read: ${(error as Error).message}`,
    );
  }
  const config = parseAgentConfig(text, { baseDir: path.dirname(source), source });
  const { mqtt } = config;
  const read = async <T>(field: string, load: () => Promise<T>): Promise<T> => {
    try {
      return await load();
    } catch (error) {
      const detail =
        error instanceof SecretFileError
          ? error.message
          : `${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message}`;
      throw new AgentConfigError(source, field, detail);
    }
  };
  if (mqtt.password_file !== null) {
    const file = mqtt.password_file;
    mqtt.password = await read('mqtt.password_file', async () =>
      readSecretFile(file, 'password file'),
    );
  }
  if (mqtt.ca_file !== null) {
    const file = mqtt.ca_file;
    mqtt.ca = await read('mqtt.ca_file', () => readFile(file));
  }
  if (mqtt.cert_file !== null && mqtt.key_file !== null) {
    const [certFile, keyFile] = [mqtt.cert_file, mqtt.key_file];
    mqtt.cert = await read('mqtt.cert_file', () => readFile(certFile));
    mqtt.key = await read('mqtt.key_file', async () => readSecretBytes(keyFile, 'key file'));
  }
  return config;
}
