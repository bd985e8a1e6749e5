import * as z from 'zod';
import { CIPHER_SUITES, type CipherSuite } from './evidence/format.js';
import { segmentUplinkSchema } from './evidence/upload-messages.js';
import { tangoPathsSchema } from './tango-paths.js';

/**
 * What agents and the cloud say to each other over MQTT: topics and message
 * schemas. Shared by agent/ (which publishes) and functions/ingest (which
 * validates), so both sides agree by construction.
 *
 * Topics: wirefleet/v1/agents/{agentId}/{channel}. The broker pins an agent to
 * its own id; the cloud takes the id from the topic and never from a payload.
 */

export const TOPIC_ROOT = 'wirefleet/v1/agents';

/**
 * Agent → cloud (`segments`: evidence upload requests, protocol/evidence/upload-messages.ts;
 * `paths`: Tango per-path measurements, protocol/tango-paths.ts).
 */
export const UPLINK_CHANNELS = [
  'flows',
  'heartbeat',
  'metrics',
  'events',
  'replies',
  'segments',
  'paths',
] as const;
/** Cloud → agent (`uploads`: answers to `segments`). */
export const DOWNLINK_CHANNELS = ['commands', 'uploads'] as const;
export type UplinkChannel = (typeof UPLINK_CHANNELS)[number];
export type DownlinkChannel = (typeof DOWNLINK_CHANNELS)[number];
export type AgentChannel = UplinkChannel | DownlinkChannel;

/** Lower-case letters, digits and '-', up to 63 characters (fits an MQTT client id and a DNS label). */
export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const agentIdSchema = z
  .string()
  .regex(AGENT_ID_PATTERN, "use a-z, 0-9 and '-' (up to 63 characters, not starting with '-')");

/** AWS IoT Core's payload limit; batches are cut below it. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

export function agentTopic(agentId: string, channel: AgentChannel): string {
  return `${TOPIC_ROOT}/${agentId}/${channel}`;
}

/** Splits a topic into agent id and channel; undefined for anything else. */
export function parseAgentTopic(
  topic: string,
): { agentId: string; channel: AgentChannel } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}/${parts[2]}` !== TOPIC_ROOT) return undefined;
  const agentId = parts[3]!;
  const channel = parts[4] as AgentChannel;
  if (!AGENT_ID_PATTERN.test(agentId)) return undefined;
  if (
    !(UPLINK_CHANNELS as readonly string[]).includes(channel) &&
    !(DOWNLINK_CHANNELS as readonly string[]).includes(channel)
  ) {
    return undefined;
  }
  return { agentId, channel };
}

const epochSeconds = z.number().finite().min(0);
const count = z.number().int().min(0);
const ipAddress = z.string().min(2).max(45);

/** A stable record id: 32 hex digits derived from the flow itself (see agent/record-id.ts). */
export const RECORD_ID_PATTERN = /^[0-9a-f]{32}$/;

/** One flow in the seed's shape, plus the record id that makes redelivery harmless. */
export const flowRecordSchema = z.object({
  record_id: z.string().regex(RECORD_ID_PATTERN, 'must be 32 lower-case hex digits'),
  flow_id: z.string().max(32),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  src_ip: ipAddress,
  dst_ip: ipAddress,
  src_port: z.number().int().min(0).max(65535),
  dst_port: z.number().int().min(0).max(65535),
  protocol: z.number().int().min(0).max(255),
  vlan_id: z.number().int().min(0).max(4095),
  packets: count,
  bytes: count,
  packets_fwd: count,
  packets_rev: count,
  bytes_fwd: count,
  bytes_rev: count,
  first_seen: epochSeconds,
  last_seen: epochSeconds,
  duration_sec: z.number().finite().min(0),
  tcp_flags: z.string().max(64),
  state: z.enum(['ACTIVE', 'CLOSING', 'CLOSED']),
  end_reason: z.enum(['idle', 'active', 'fin_rst', 'end_of_capture', 'evicted']).nullable(),
});
export type FlowRecordMessage = z.infer<typeof flowRecordSchema>;

export const flowBatchSchema = z.object({
  schema: z.literal('wirefleet.flows/1'),
  /** Unique per batch; a redelivered batch carries the same id. */
  batch_id: z.string().min(1).max(64),
  sent_at: epochSeconds,
  records: z.array(flowRecordSchema).min(1).max(2000),
});
export type FlowBatch = z.infer<typeof flowBatchSchema>;

export const locatorSchema = z.object({
  address: ipAddress,
  priority: z.number().int().min(0).max(255).default(1),
  weight: z.number().int().min(0).max(255).default(100),
});

export const heartbeatSchema = z.object({
  schema: z.literal('wirefleet.heartbeat/1'),
  sent_at: epochSeconds,
  version: z.string().max(64),
  uptime_sec: z.number().finite().min(0),
  /** The agent promises the next heartbeat within this many seconds. */
  interval_sec: z.number().finite().min(1).max(3600),
  backend: z.string().max(32),
  capture: z.object({
    running: z.boolean(),
    interface: z.string().max(64).optional(),
    file: z.string().max(4096).optional(),
  }),
  /** The agent's routing locators (its site's RLOCs). */
  rlocs: z.array(locatorSchema).max(64).default([]),
  /** EID prefixes served behind those RLOCs, as "a.b.c.d/len". */
  eid_prefixes: z.array(z.string().max(49)).max(256).default([]),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const metricsSchema = z.object({
  schema: z.literal('wirefleet.metrics/1'),
  sent_at: epochSeconds,
  capture: z.object({
    running: z.boolean(),
    packets_captured: count,
    packets_dropped: count,
    bytes_captured: count,
    /** Percent, 0..100, as the control API reports it. */
    drop_rate: z.number().finite().min(0).max(100),
    packet_rate_pps: z.number().finite().min(0),
    throughput_mbps: z.number().finite().min(0),
    buffer_usage_pct: z.number().finite().min(0).max(100),
    parse_errors: count,
  }),
  flows: z.object({ active: count, emitted: count, evictions: count }),
  spool: z.object({
    depth_batches: count,
    depth_bytes: count,
    /** Oldest batches dropped because the spool was full. */
    dropped_batches: count,
    dropped_records: count,
    /** Batches set aside after the broker kept refusing them (kept on disk in rejected/). */
    rejected_batches: count.optional(),
    /** Entries whose file vanished from the spool (deleted by hand), and their records. */
    lost_batches: count.optional(),
    lost_records: count.optional(),
    /** Flow batches the spool could not write (disk full, I/O error), and their records. */
    write_failures: count.optional(),
    write_failed_records: count.optional(),
  }),
  uplink: z.object({ connected: z.boolean(), published: count, acked: count, reconnects: count }),
  /** Evidence recording (issue 11); present when the agent has an evidence spool. */
  evidence: z
    .object({
      /** A key is loaded: live captures started now record. */
      recording_enabled: z.boolean(),
      /** The running capture records. */
      session_recording: z.boolean(),
      segments_recorded: count,
      bytes_recorded: count,
      packets_recorded: count,
      /** Sealed segments that could not be written (lost, counted). */
      write_failures: count,
      spool: z.object({
        depth_segments: count,
        depth_bytes: count,
        dropped_segments: count,
        dropped_bytes: count,
        refused_segments: count,
        /** -1 before the first segment. */
        last_seq: z.number().int().min(-1),
      }),
      upload: z.object({
        /** Since the spool was created (kept across restarts). */
        uploaded_segments: count,
        uploaded_bytes: count,
        /** This run. */
        failed_attempts: count,
        uploading: z.string().max(64).nullable(),
        last_error: z.string().max(500).nullable(),
      }),
    })
    .optional(),
});
export type AgentMetrics = z.infer<typeof metricsSchema>;
export type EvidenceMetrics = NonNullable<AgentMetrics['evidence']>;

export const EVENT_TYPES = [
  'agent_started',
  'agent_stopping',
  'capture_started',
  'capture_stopped',
  'capture_failed',
  'drop_rate_high',
  'spool_overflow',
  'integrity_unverified',
  /** Evidence: a sealed segment was lost before the disk took it. */
  'recording_failed',
  /** Evidence: the cloud refused a segment for good (kept in refused/). */
  'segment_refused',
  /** Tango: a class the peer sends us broke its bounds; we asked the peer to move it. */
  'tango_class_moved',
] as const;

export const eventSchema = z.object({
  schema: z.literal('wirefleet.event/1'),
  event_id: z.string().min(1).max(64),
  sent_at: epochSeconds,
  type: z.enum(EVENT_TYPES),
  severity: z.enum(['info', 'warning', 'critical']),
  message: z.string().max(1000),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type AgentEvent = z.infer<typeof eventSchema>;

/**
 * A command older than this when it reaches the agent is answered 'expired'
 * and not carried out (the broker queues commands for an offline agent), and
 * the API shows a command still unanswered after this long as expired.
 */
export const COMMAND_MAX_AGE_SEC = 600;

/** What the cloud may ask an agent to do. */
export const COMMAND_ACTIONS = [
  'capture.start',
  'capture.stop',
  'meter.configure',
  'status',
  'evidence.enable',
] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

export const captureStartParamsSchema = z.strictObject({
  interface: z.string().min(1).max(15).optional(),
  file: z.string().min(1).max(4096).optional(),
  backend: z.enum(['afpacket', 'libpcap', 'file']).optional(),
  buffer_size_mb: z.number().int().min(1).max(4096).optional(),
  snaplen: z.number().int().min(0).max(262144).optional(),
  filter_expr: z.string().max(4096).optional(),
  timestamp_source: z.enum(['kernel', 'adapter', 'adapter_unsynced']).optional(),
});
export type CaptureStartParams = z.infer<typeof captureStartParamsSchema>;

export const meterConfigureParamsSchema = z.strictObject({
  table_size: z.number().int().min(4096).max(16_777_216).optional(),
  idle_timeout_sec: z.number().int().min(1).max(86_400).optional(),
  active_timeout_sec: z.number().int().min(1).max(86_400).optional(),
  export_interval_sec: z.number().int().min(1).max(3600).optional(),
});
export type MeterConfigureParams = z.infer<typeof meterConfigureParamsSchema>;

/**
 * evidence.enable: recording on, with the key file the agent's config names (a cloud command
 * never names a path on the agent); the cipher defaults to the configured one.
 */
export const evidenceEnableParamsSchema = z.strictObject({
  cipher_suite: z.enum(CIPHER_SUITES as [CipherSuite, ...CipherSuite[]]).optional(),
});

export const commandSchema = z.discriminatedUnion('action', [
  z.object({
    command_id: z.string().min(1).max(64),
    issued_at: epochSeconds,
    action: z.literal('capture.start'),
    params: captureStartParamsSchema.default({}),
  }),
  z.object({
    command_id: z.string().min(1).max(64),
    issued_at: epochSeconds,
    action: z.literal('capture.stop'),
    params: z.strictObject({ graceful: z.boolean().optional() }).default({}),
  }),
  z.object({
    command_id: z.string().min(1).max(64),
    issued_at: epochSeconds,
    action: z.literal('meter.configure'),
    params: meterConfigureParamsSchema.default({}),
  }),
  z.object({
    command_id: z.string().min(1).max(64),
    issued_at: epochSeconds,
    action: z.literal('status'),
    params: z.strictObject({}).default({}),
  }),
  z.object({
    command_id: z.string().min(1).max(64),
    issued_at: epochSeconds,
    action: z.literal('evidence.enable'),
    params: evidenceEnableParamsSchema.default({}),
  }),
]);
export type AgentCommand = z.infer<typeof commandSchema>;

export const replySchema = z.object({
  schema: z.literal('wirefleet.reply/1'),
  command_id: z.string().min(1).max(64),
  replied_at: epochSeconds,
  status: z.enum(['ok', 'error']),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.object({ code: z.string().max(64), message: z.string().max(1000) }).optional(),
});
export type CommandReply = z.infer<typeof replySchema>;

/** The schema for each uplink channel. */
export const UPLINK_SCHEMAS = {
  flows: flowBatchSchema,
  heartbeat: heartbeatSchema,
  metrics: metricsSchema,
  events: eventSchema,
  replies: replySchema,
  segments: segmentUplinkSchema,
  paths: tangoPathsSchema,
} as const;

/** Whether a channel is one the cloud publishes on (agents may only subscribe to it). */
export function isDownlinkChannel(channel: string): channel is DownlinkChannel {
  return (DOWNLINK_CHANNELS as readonly string[]).includes(channel);
}
