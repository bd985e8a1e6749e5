import * as z from 'zod';
import { isIPv4 } from '../../protocol/address.js';
import { agentIdSchema, COMMAND_ACTIONS, commandSchema } from '../../protocol/agent-messages.js';
import { MAX_CSR_PEM_LENGTH } from '../identity/csr.js';
import { MAX_EXPORT_PACKETS } from '../pcap/export.js';
import { PRIORITIES } from '../routing/catalogue.js';
import { WORKLOAD_TYPES } from '../routing/workload.js';
import { FLOW_QUERY_MAX_LIMIT } from '../store/flows.js';

/** A unicast IPv4 EID: not 0.0.0.0/8, loopback-free, not multicast or broadcast. */
export const sourceEidSchema = z.string().refine(
  (value) => {
    if (!isIPv4(value)) return false;
    const first = Number(value.split('.')[0]);
    return first !== 0 && first !== 127 && first < 224;
  },
  { message: 'must be a unicast IPv4 address (not 0.x, 127.x, multicast or broadcast)' },
);

export const DEFAULT_SOURCE_EID = '10.0.0.1';

export const routeRequestSchema = z.strictObject({
  query: z.string().trim().min(1, 'must not be empty').max(100_000),
  source_eid: sourceEidSchema.default(DEFAULT_SOURCE_EID),
  priority: z.enum(PRIORITIES).default('medium'),
});

const count = (max: number, fallback: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`)
    .default(fallback);

/** ISO 8601 or epoch seconds, to epoch milliseconds. */
const instant = z.string().transform((value, ctx) => {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be ISO 8601 or epoch seconds' });
    return z.NEVER;
  }
  return ms;
});

/**
 * A page token from the previous page's next_token. Any string passes here:
 * PageTokens says what is wrong with it (400 invalid_next_token).
 */
const nextToken = z.string().optional();

const optionalCount = (max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`)
    .optional();

/** Which packets: by model, workload type and time (recent pages and downloads alike). */
const packetFilterParams = {
  model: z.string().min(1).max(64).optional(),
  workload_type: z.enum(WORKLOAD_TYPES).optional(),
  since: instant.optional(),
  until: instant.optional(),
};

const sinceNotAfterUntil: [
  (q: { since?: number | undefined; until?: number | undefined }) => boolean,
  { message: string; path: string[] },
] = [
  (q) => q.since === undefined || q.until === undefined || q.since <= q.until,
  { message: 'since must not be after until', path: ['since'] },
];

/** GET /packets/recent: the seed's `count`, or `limit` as every other list has it; optional filters. */
export const recentQuerySchema = z
  .object({
    count: optionalCount(1000),
    limit: optionalCount(1000),
    next_token: nextToken,
    ...packetFilterParams,
  })
  .refine((q) => q.count === undefined || q.limit === undefined || q.count === q.limit, {
    message: 'count and limit are the same parameter: give one',
    path: ['limit'],
  })
  .refine(...sinceNotAfterUntil)
  .transform(({ count: c, limit, next_token, ...filter }) => ({
    limit: limit ?? c ?? 10,
    next_token,
    ...filter,
  }));

export const downloadQuerySchema = z
  .object({
    count: count(MAX_EXPORT_PACKETS, 10),
    format: z.enum(['pcap', 'pcapng']).default('pcap'),
    ...packetFilterParams,
  })
  .refine(...sinceNotAfterUntil);

export const singleDownloadQuerySchema = z.object({
  format: z.enum(['pcap', 'pcapng']).default('pcap'),
});

export const visualizeRequestSchema = z.strictObject({
  packet_id: z.string().optional(),
});

/** A PEM CSR; validateCsr (functions/identity/csr.ts) checks what it holds. */
const csrPem = z
  .string()
  .min(1, 'must be a PEM certificate signing request')
  .max(MAX_CSR_PEM_LENGTH, `must be at most ${MAX_CSR_PEM_LENGTH} characters`)
  .describe(
    'PKCS#10 CSR (PEM) for the key the agent made and keeps: EC P-256/P-384 or RSA of 2048 bits or more; its subject is ignored (the certificate CN is the agent id)',
  );

/** With a csr: an X.509 certificate; without: a password (brokers without TLS; not in AWS IoT). */
export const registerAgentSchema = z.strictObject({
  agent_id: agentIdSchema,
  csr: csrPem.optional(),
});

/** POST /agents/{id}/credentials: a new certificate for a new CSR, or a new password without one. */
export const rotateCredentialsSchema = z.strictObject({ csr: csrPem.optional() });

/** Epoch seconds (a non-negative number), as flow records carry them. */
const epochSecondsParam = z.coerce
  .number({ message: 'must be epoch seconds' })
  .finite('must be epoch seconds')
  .min(0, 'must be epoch seconds (not negative)');

export const flowsQuerySchema = z
  .object({
    agent_id: agentIdSchema.optional(),
    limit: count(FLOW_QUERY_MAX_LIMIT, 100),
    min_packets: z.coerce
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(0, 'must not be negative')
      .default(0),
    /** packets, bytes, duration: a ranking, not paged; time: store order, paged with next_token. */
    sort_by: z.enum(['packets', 'bytes', 'duration', 'time']).default('packets'),
    next_token: nextToken,
    since: epochSecondsParam.optional(),
    until: epochSecondsParam.optional(),
  })
  .refine((q) => q.since === undefined || q.until === undefined || q.since <= q.until, {
    message: 'since must not be after until',
    path: ['since'],
  });

/** GET /agents/{id}/events and /metrics: the newest `limit` items, then the next page. */
export const timelineQuerySchema = z.strictObject({
  limit: count(1000, 100),
  next_token: nextToken,
});

/** GET /agents/{id}/commands: newest first. */
export const commandsQuerySchema = timelineQuerySchema;

/** GET /agents: by id; the default page holds up to 1000, as the unpaged list did. */
export const agentsQuerySchema = z.object({ limit: count(1000, 1000), next_token: nextToken });

const [captureStart, captureStop, meterConfigure, statusCommand, evidenceEnable] =
  commandSchema.options;
const commandBody = (option: (typeof commandSchema.options)[number]) =>
  z.strictObject({ action: option.shape.action, params: option.shape.params });

/** What a client sends to command an agent; the id and time are the server's. */
export const commandRequestSchema = z.discriminatedUnion(
  'action',
  [
    commandBody(captureStart),
    commandBody(captureStop),
    commandBody(meterConfigure),
    commandBody(statusCommand),
    commandBody(evidenceEnable),
  ],
  { error: `action must be one of ${COMMAND_ACTIONS.join(', ')}` },
);
