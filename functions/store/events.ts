import type { AgentEvent, AgentMetrics } from '../../protocol/agent-messages.js';
import { AgentTimeline, timelinePartition, timelineSortKey } from './agent-timeline.js';
import type { StoreClients } from './clients.js';

export type StoredEvent = Omit<AgentEvent, 'schema'> & { agent_id: string };
export type StoredMetrics = Omit<AgentMetrics, 'schema'> & { agent_id: string };

/** Agent events are kept this long (DynamoDB TTL). */
export const EVENT_TTL_DAYS = 30;
/** Metrics samples (one per agent every few seconds) are kept this long. */
export const METRICS_TTL_DAYS = 7;

export const eventPartition = (tenant: string, agentId: string) =>
  timelinePartition('EVENTS', tenant, agentId);

/** Time first (so listing is newest first), then the agent's event id for idempotency. */
export function eventSortKey(event: Pick<AgentEvent, 'sent_at' | 'event_id'>): string {
  return timelineSortKey(event.sent_at, event.event_id);
}

/** Agent events (started, capture failed, drop rate high, ...): one partition per tenant and agent. */
export class EventRepository {
  private readonly timeline: AgentTimeline<Omit<AgentEvent, 'schema'>>;

  constructor(clients: StoreClients, table: string) {
    this.timeline = new AgentTimeline(clients, table, 'EVENTS', EVENT_TTL_DAYS);
  }

  /** Stores the event once; a redelivery is a 'duplicate'. */
  put(tenant: string, agentId: string, event: AgentEvent): Promise<'stored' | 'duplicate'> {
    const { schema: _schema, ...body } = event;
    return this.timeline.put(tenant, agentId, event.event_id, body);
  }

  /** The agent's latest events, newest first (limit 1..1000). */
  list(tenant: string, agentId: string, limit = 100): Promise<StoredEvent[]> {
    return this.timeline.list(tenant, agentId, limit);
  }

  /** One page of events, newest first; `next` is undefined at the end. */
  page(
    tenant: string,
    agentId: string,
    page: { limit: number; after?: string },
  ): Promise<{ items: StoredEvent[]; next?: string }> {
    return this.timeline.page(tenant, agentId, page);
  }
}

/** The agent's metrics over time; the latest sample also sits on the agent's registry item. */
export class MetricsHistoryRepository {
  private readonly timeline: AgentTimeline<Omit<AgentMetrics, 'schema'>>;

  constructor(clients: StoreClients, table: string) {
    this.timeline = new AgentTimeline(clients, table, 'METRICS', METRICS_TTL_DAYS);
  }

  /** Keyed by the sample's send time: a redelivered sample is a 'duplicate'. */
  put(tenant: string, agentId: string, metrics: AgentMetrics): Promise<'stored' | 'duplicate'> {
    const { schema: _schema, ...body } = metrics;
    return this.timeline.put(tenant, agentId, 'm', body);
  }

  list(tenant: string, agentId: string, limit = 60): Promise<StoredMetrics[]> {
    return this.timeline.list(tenant, agentId, limit);
  }

  /** One page of samples, newest first; `next` is undefined at the end. */
  page(
    tenant: string,
    agentId: string,
    page: { limit: number; after?: string },
  ): Promise<{ items: StoredMetrics[]; next?: string }> {
    return this.timeline.page(tenant, agentId, page);
  }
}
