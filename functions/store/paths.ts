import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TangoPathsMessage } from '../../protocol/tango-paths.js';
import { AgentTimeline } from './agent-timeline.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { storeCall } from './errors.js';
import { queryPages } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

/** A paths message as stored: its body, whose agent sent it and when it arrived (server clock). */
export type StoredPaths = Omit<TangoPathsMessage, 'schema'> & {
  agent_id: string;
  /** Epoch seconds when the cloud took it in. */
  received_at: number;
};

/** Path measurement samples (one per Tango agent every few seconds) are kept this long. */
export const PATHS_TTL_DAYS = 7;

/**
 * The latest paths message of every agent of a tenant, one item per agent in one
 * partition, so routing reads a tenant's measurements with a single Query.
 */
export const latestPathsPartition = (tenant: string) => `PATHS-LATEST#${tenant}`;

const LATEST_ATTRIBUTES = new Set(['pk', 'sk', TTL_ATTRIBUTE, 'order_at']);

/**
 * Tango per-path measurements (issue 12) in the flows table: the latest message
 * per agent (replaced only by a newer one) and a short history (the 'PATHS'
 * timeline, like metrics), both expiring by TTL. The tenant always comes from
 * the caller (the agent's registry entry), never from the message.
 */
export class PathsRepository {
  private readonly history: AgentTimeline<Omit<TangoPathsMessage, 'schema'>>;

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {
    this.history = new AgentTimeline(clients, table, 'PATHS', PATHS_TTL_DAYS);
  }

  /**
   * Stores one message: as the agent's latest when it is newer than the one
   * held ('stale' otherwise, a redelivery included), and in the history once
   * ('duplicate' on redelivery).
   */
  async record(
    tenant: string,
    agentId: string,
    message: TangoPathsMessage,
    receivedAt = Date.now() / 1000,
  ): Promise<{ latest: 'stored' | 'stale'; history: 'stored' | 'duplicate' }> {
    const { schema: _schema, ...body } = message;
    // Ordered by the agent's send time, never later than receipt: one message from a clock
    // set a year ahead must not make every later one stale (as heartbeats are ordered).
    const orderAt = Math.min(message.sent_at, receivedAt);
    const applied = await storeCall('store paths', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...body,
              pk: latestPathsPartition(tenant),
              sk: agentId,
              agent_id: agentId,
              received_at: receivedAt,
              order_at: orderAt,
              [TTL_ATTRIBUTE]:
                Math.floor(Math.max(message.sent_at, receivedAt)) + PATHS_TTL_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(sk) OR order_at < :o',
            ExpressionAttributeValues: { ':o': orderAt },
          }),
        ),
      ),
    );
    const history = await this.history.put(tenant, agentId, 'p', body);
    return { latest: applied ? 'stored' : 'stale', history };
  }

  /** The agent's latest paths message, or undefined before its first. */
  async latest(tenant: string, agentId: string): Promise<StoredPaths | undefined> {
    const { Item } = await storeCall('read paths', () =>
      this.clients.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: latestPathsPartition(tenant), sk: agentId },
        }),
      ),
    );
    return Item ? latestBody(Item) : undefined;
  }

  /** The latest paths message of each of the tenant's agents that published one. */
  async listLatest(tenant: string): Promise<StoredPaths[]> {
    const found: StoredPaths[] = [];
    for await (const page of queryPages(this.clients.doc, 'list paths', {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': latestPathsPartition(tenant) },
    })) {
      for (const item of page.Items ?? []) found.push(latestBody(item));
    }
    return found;
  }

  /** One page of the agent's past messages, newest first; `next` is undefined at the end. */
  async page(
    tenant: string,
    agentId: string,
    page: { limit: number; after?: string },
  ): Promise<{
    items: (Omit<TangoPathsMessage, 'schema'> & { agent_id: string })[];
    next?: string;
  }> {
    return this.history.page(tenant, agentId, page);
  }
}

function latestBody(item: Record<string, unknown>): StoredPaths {
  return Object.fromEntries(
    Object.entries(item).filter(([key]) => !LATEST_ATTRIBUTES.has(key)),
  ) as StoredPaths;
}
