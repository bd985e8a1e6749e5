import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentEvent } from '../../protocol/agent-messages.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite, padMs } from './conditional.js';
import { storeCall } from './errors.js';
import { TTL_ATTRIBUTE } from './schema.js';

export interface StoredEvent extends Omit<AgentEvent, 'schema'> {
  agent_id: string;
}

/** Agent events are kept this long (DynamoDB TTL). */
export const EVENT_TTL_DAYS = 30;

export const eventPartition = (tenant: string, agentId: string) => `EVENTS#${tenant}#${agentId}`;

/** Time first (so listing is newest first), then the agent's event id for idempotency. */
export function eventSortKey(event: Pick<AgentEvent, 'sent_at' | 'event_id'>): string {
  return `${padMs(event.sent_at * 1000)}#${event.event_id}`;
}

function toEvent(item: Record<string, unknown>): StoredEvent {
  return {
    agent_id: String(item.agent_id),
    event_id: String(item.event_id),
    sent_at: Number(item.sent_at),
    type: item.type as AgentEvent['type'],
    severity: item.severity as AgentEvent['severity'],
    message: String(item.message),
    ...(item.details ? { details: item.details as Record<string, unknown> } : {}),
  };
}

/** Agent events (started, capture failed, drop rate high, ...): one partition per tenant and agent. */
export class EventRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  /** Stores the event once; a redelivery is a 'duplicate'. */
  async put(tenant: string, agentId: string, event: AgentEvent): Promise<'stored' | 'duplicate'> {
    const { schema: _schema, ...body } = event;
    const applied = await storeCall('store event', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...body,
              pk: eventPartition(tenant, agentId),
              sk: eventSortKey(event),
              agent_id: agentId,
              [TTL_ATTRIBUTE]: Math.floor(event.sent_at) + EVENT_TTL_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
        ),
      ),
    );
    return applied ? 'stored' : 'duplicate';
  }

  /** The agent's latest events, newest first (limit 1..1000). */
  async list(tenant: string, agentId: string, limit = 100): Promise<StoredEvent[]> {
    const wanted = Math.min(Math.max(Math.floor(limit), 1), 1000);
    const events: StoredEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await storeCall('list events', () =>
        this.clients.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': eventPartition(tenant, agentId) },
            ScanIndexForward: false,
            Limit: wanted - events.length,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) events.push(toEvent(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey && events.length < wanted);
    return events;
  }
}
