import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { conditionalWrite, padMs } from './conditional.js';
import { storeCall } from './errors.js';
import { pageAfter, readPage } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

/**
 * One time-ordered partition per tenant, agent and kind (events, metrics):
 * sort key = send time then the message's own id, so a redelivered message
 * hits the same key and the conditional put keeps one copy. Items expire by TTL.
 */
export const timelinePartition = (kind: string, tenant: string, agentId: string) =>
  `${kind}#${tenant}#${agentId}`;

export function timelineSortKey(sentAt: number, id: string): string {
  return `${padMs(sentAt * 1000)}#${id}`;
}

const KEY_ATTRIBUTES = new Set(['pk', 'sk', TTL_ATTRIBUTE]);

export class AgentTimeline<T extends { sent_at: number }> {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
    private readonly kind: string,
    private readonly ttlDays: number,
  ) {}

  /** Stores the item once; a redelivery is a 'duplicate'. */
  async put(tenant: string, agentId: string, id: string, item: T): Promise<'stored' | 'duplicate'> {
    const applied = await storeCall(`store ${this.kind.toLowerCase()}`, () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...item,
              pk: timelinePartition(this.kind, tenant, agentId),
              sk: timelineSortKey(item.sent_at, id),
              agent_id: agentId,
              // From the later of send and store time: an agent's clock must not expire data early.
              [TTL_ATTRIBUTE]:
                Math.floor(Math.max(item.sent_at, Date.now() / 1000)) + this.ttlDays * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
        ),
      ),
    );
    return applied ? 'stored' : 'duplicate';
  }

  /** The agent's latest items, newest first (limit 1..1000). */
  async list(tenant: string, agentId: string, limit = 100): Promise<(T & { agent_id: string })[]> {
    return (await this.page(tenant, agentId, { limit })).items;
  }

  /** One page, newest first; `next` resumes after its last item and is undefined at the end. */
  async page(
    tenant: string,
    agentId: string,
    page: { limit: number; after?: string },
  ): Promise<{ items: (T & { agent_id: string })[]; next?: string }> {
    const limit = Math.min(Math.max(Math.floor(page.limit), 1), 1000);
    const pk = timelinePartition(this.kind, tenant, agentId);
    const { items, next } = await readPage(
      this.clients.doc,
      `list ${this.kind.toLowerCase()}`,
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
      },
      { pk, limit, maxRead: limit + 1, ...pageAfter(page.after) },
    );
    const bodies = items.map(
      (raw) =>
        Object.fromEntries(Object.entries(raw).filter(([key]) => !KEY_ATTRIBUTES.has(key))) as T & {
          agent_id: string;
        },
    );
    return { items: bodies, ...(next !== undefined ? { next } : {}) };
  }
}
