import type { DownlinkPublisher } from '../api/command-publisher.js';
import { DownlinkUnavailableError, SegmentUploads } from '../evidence/segment-uploads.js';
import { createLogger, type Logger } from '../logger.js';
import { AgentRepository } from '../store/agents.js';
import { createStoreClients, type StoreClients } from '../store/clients.js';
import { CommandRepository } from '../store/commands.js';
import type { StoreConfig } from '../store/config.js';
import { StoreUnavailableError } from '../store/errors.js';
import { EventRepository, MetricsHistoryRepository } from '../store/events.js';
import { FlowRepository } from '../store/flows.js';
import { PathsRepository } from '../store/paths.js';
import { SegmentRepository } from '../store/segments.js';
import { decodeUplink, type UplinkMessage } from './decode.js';

export interface IngestDeps {
  agents: AgentRepository;
  flows: FlowRepository;
  commands: CommandRepository;
  /** Without it, events are only logged. */
  events?: EventRepository;
  /** Without it, only the latest metrics (on the agent's item) are kept. */
  metricsHistory?: MetricsHistoryRepository;
  /** Tango per-path measurements; without it, paths messages are rejected as unavailable. */
  paths?: PathsRepository;
  /** Evidence uploads (`segments`); without it, segment messages are rejected as unavailable. */
  segmentUploads?: SegmentUploads;
  logger: Logger;
}

export type IngestOutcome = {
  status: 'stored' | 'duplicate' | 'stale' | 'rejected';
  channel?: string;
  agentId?: string;
  tenant?: string;
  written?: number;
  duplicates?: number;
  reason?: string;
};

/** Repositories for ingest from a store configuration (Lambda, local subscriber). */
export function createIngestDeps(
  config: StoreConfig,
  options: {
    logger?: Logger;
    clients?: StoreClients;
    /** Answers agents on `uploads`; evidence uploads are handled only with one. */
    downlink?: DownlinkPublisher;
    /** Days a segment is kept (the bucket's lifecycle, PCAP_RETENTION_DAYS). */
    segmentRetentionDays?: number;
    uploadUrlTtlSeconds?: number;
  } = {},
): IngestDeps & { clients: StoreClients } {
  const clients = options.clients ?? createStoreClients(config);
  const logger = options.logger ?? createLogger('ingest');
  return {
    ...(options.downlink
      ? {
          segmentUploads: new SegmentUploads({
            segments: new SegmentRepository(
              clients,
              config.flowsTable,
              options.segmentRetentionDays,
            ),
            s3: clients.s3,
            bucket: config.pcapBucket,
            publisher: options.downlink,
            logger,
            ...(options.uploadUrlTtlSeconds ? { urlTtlSeconds: options.uploadUrlTtlSeconds } : {}),
          }),
        }
      : {}),
    clients,
    agents: new AgentRepository(clients, config.tenantsTable),
    flows: new FlowRepository(clients, config.flowsTable),
    commands: new CommandRepository(clients, config.flowsTable),
    events: new EventRepository(clients, config.flowsTable),
    metricsHistory: new MetricsHistoryRepository(clients, config.flowsTable),
    paths: new PathsRepository(clients, config.flowsTable),
    logger,
  };
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Store errors that a retry cannot fix: the message itself is unstorable
 * (say a number beyond DynamoDB's 38-digit range that the schema allowed).
 */
const PERMANENT_STORE_ERRORS = new Set(['ValidationException', 'SerializationException']);

/** The store's one-line refusal of this message, if that is what the error is. */
export function storeRefusal(error: unknown): string | undefined {
  if (!(error instanceof StoreUnavailableError)) return undefined;
  const cause = error.cause as { name?: string; message?: string } | undefined;
  if (!cause?.name || !PERMANENT_STORE_ERRORS.has(cause.name)) return undefined;
  const detail = (cause.message ?? '').replace(/\s+/g, ' ').slice(0, 200);
  return detail ? `${cause.name}: ${detail}` : cause.name;
}

/** Failures worth retrying: the store, or the network to it. */
export function isRetryable(error: unknown): boolean {
  // An answer to an agent that did not go out: every segment answer can be given again.
  if (error instanceof DownlinkUnavailableError) return true;
  if (error instanceof StoreUnavailableError) return storeRefusal(error) === undefined;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code);
}

/**
 * Validates and stores one agent message. The agent id comes from the topic
 * alone and the tenant from the agent registry alone; whatever a payload says
 * about either is dropped by the schemas. Bad input resolves to 'rejected'
 * and is logged; an unreachable store rejects the promise so the transport
 * (IoT rule retry, the local subscriber's withheld PUBACK) delivers it again.
 */
export async function ingestMessage(
  deps: IngestDeps,
  topic: string,
  payload: Uint8Array | string,
): Promise<IngestOutcome> {
  const decoded = decodeUplink(topic, payload);
  if (!decoded.ok) {
    const { ok: _ok, ...rest } = decoded;
    return reject(deps.logger, topic, rest);
  }
  try {
    const agent = await deps.agents.get(decoded.agentId);
    if (!agent) {
      return reject(deps.logger, topic, {
        agentId: decoded.agentId,
        channel: decoded.channel,
        reason: `unknown agent "${decoded.agentId}"`,
      });
    }
    const outcome: IngestOutcome = {
      channel: decoded.channel,
      agentId: decoded.agentId,
      tenant: agent.tenant,
      ...(await store(deps, agent.tenant, decoded)),
    };
    if (outcome.status === 'rejected') return reject(deps.logger, topic, outcome);
    deps.logger.debug('ingested', { topic, ...outcome });
    return outcome;
  } catch (error) {
    if (isRetryable(error)) throw error;
    const refusal = storeRefusal(error);
    if (refusal) {
      return reject(deps.logger, topic, {
        channel: decoded.channel,
        agentId: decoded.agentId,
        reason: `the store refused the message (${refusal})`,
      });
    }
    // A message that trips a bug must not be redelivered forever: log it loudly and drop it.
    deps.logger.error('ingest failed', {
      topic,
      agentId: decoded.agentId,
      channel: decoded.channel,
      error: (error as Error).message ?? String(error),
    });
    return {
      status: 'rejected',
      channel: decoded.channel,
      agentId: decoded.agentId,
      reason: 'internal error while storing the message',
    };
  }
}

async function store(
  deps: IngestDeps,
  tenant: string,
  m: UplinkMessage,
): Promise<Omit<IngestOutcome, 'channel' | 'agentId' | 'tenant'>> {
  switch (m.channel) {
    case 'flows': {
      const { written, duplicates } = await deps.flows.putBatch(
        tenant,
        m.agentId,
        m.message.records,
      );
      return { status: written > 0 ? 'stored' : 'duplicate', written, duplicates };
    }
    case 'heartbeat':
      return { status: await deps.agents.recordHeartbeat(m.agentId, m.message) };
    case 'metrics': {
      const latest = await deps.agents.recordMetrics(m.agentId, m.message);
      const kept = deps.metricsHistory
        ? await deps.metricsHistory.put(tenant, m.agentId, m.message)
        : 'stored';
      // A late sample still joins the history even when it is not the latest.
      return { status: kept === 'duplicate' ? 'duplicate' : latest };
    }
    case 'events': {
      const event = m.message;
      if (event.severity !== 'info') {
        deps.logger[event.severity === 'critical' ? 'error' : 'warn']('agent event', {
          tenant,
          agentId: m.agentId,
          event_id: event.event_id,
          type: event.type,
          severity: event.severity,
          message: event.message,
        });
      }
      if (!deps.events) return { status: 'stored' };
      return { status: await deps.events.put(tenant, m.agentId, event) };
    }
    case 'segments': {
      if (!deps.segmentUploads) {
        return { status: 'rejected', reason: 'evidence uploads are not configured here' };
      }
      const { status, reason } = await deps.segmentUploads.handle(tenant, m.agentId, m.message);
      return { status, ...(reason ? { reason } : {}) };
    }
    case 'paths': {
      if (!deps.paths) return { status: 'rejected', reason: 'paths are not stored here' };
      const { latest, history } = await deps.paths.record(tenant, m.agentId, m.message);
      // Like metrics: an older message joins the history without replacing the latest.
      return { status: history === 'duplicate' ? 'duplicate' : latest };
    }
    case 'replies': {
      const result = await deps.commands.recordReply(m.agentId, m.message);
      if (result === 'unknown') {
        return {
          status: 'rejected',
          reason: `reply to command "${m.message.command_id}", which this agent was not sent`,
        };
      }
      return { status: result };
    }
  }
}

function reject(
  logger: Logger,
  topic: string,
  outcome: Omit<IngestOutcome, 'status'>,
): IngestOutcome {
  const rejected: IngestOutcome = { ...outcome, status: 'rejected' };
  logger.warn('ingest rejected', { topic, ...rejected });
  return rejected;
}
