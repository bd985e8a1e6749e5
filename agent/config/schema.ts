import { isIP } from 'node:net';
import * as z from 'zod';
import { agentIdSchema } from '../../protocol/agent-messages.js';
import { CIPHER_SUITES, type CipherSuite } from '../../protocol/evidence/format.js';
import { configDefaults as d } from './defaults.js';
import { tangoConfigSchema } from './tango-schema.js';
import { ipv4PrefixProblem, parseListen } from './values.js';

/**
 * The file's shape, field by field: strict objects (an unknown key is an
 * error) with defaults filled in. Rules across fields live in parse.ts.
 */

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

/**
 * MQTT client ids as AWS IoT allows them for thing names (which it requires
 * as the client id): 1-128 of letters, digits, ':', '_' and '-'.
 */
export const MQTT_CLIENT_ID_PATTERN = /^[A-Za-z0-9:_-]{1,128}$/;

const locator = z.strictObject({
  address: z.string().refine((a) => isIP(a) !== 0, 'must be an IPv4 or IPv6 address'),
  priority: int(0, 255).default(1),
  weight: int(0, 255).default(100),
});

export const fileSchema = z.strictObject({
  agent_id: agentIdSchema,
  mqtt: z.strictObject({
    url: mqttUrl,
    /** The MQTT client id; default agent_id. In AWS it is the thing name (wirefleet-<id>). */
    client_id: z
      .string()
      .regex(MQTT_CLIENT_ID_PATTERN, "must be 1-128 of A-Z, a-z, 0-9, ':', '_' and '-'")
      .optional(),
    username: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(4096).optional(),
    password_file: pathString.optional(),
    ca_file: optionalPath,
    cert_file: optionalPath,
    key_file: optionalPath,
    keepalive_sec: int(1, 65_535).default(d.mqtt.keepalive_sec),
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
  /** Encrypted pcap recording of the live capture (issue 11); see agent/evidence/recorder.ts. */
  evidence: z
    .strictObject({
      enabled: z.boolean().default(d.evidence.enabled),
      /** The master key (mode 0600): 64 hex digits, base64 or 32 raw bytes. */
      key_file: optionalPath,
      cipher: z.enum(CIPHER_SUITES as [CipherSuite, ...CipherSuite[]]).default(d.evidence.cipher),
      /** Default: `evidence` beside spool.dir (parse.ts), so one state directory holds both. */
      spool_dir: pathString.optional(),
      max_spool_mb: int(1, 1_048_576).default(d.evidence.max_spool_mb),
      /** A segment is cut at this many MiB of pcap, or segment_seconds, whichever first. */
      segment_mb: int(1, 64).default(d.evidence.segment_mb),
      segment_seconds: int(1, 3600).default(d.evidence.segment_seconds),
    })
    .prefault({}),
  /** This site's Tango tunnel node (issue 12); see agent/config/tango-schema.ts. */
  tango: tangoConfigSchema.prefault({}),
});

export type FileConfig = z.infer<typeof fileSchema>;

const TYPE_NAMES: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

/** A zod issue as the dotted field it is about and a short message for people. */
export function describeIssue(issue: z.core.$ZodIssue): { field: string; detail: string } {
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
