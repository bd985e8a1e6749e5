import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PacketRecord } from '../routing/packet-record.js';
import type { StoreClients } from './clients.js';
import { AlreadyExistsError, storeCall } from './errors.js';
import { packetIdRange } from './packet-id.js';
import { countQuery, pageAfter, QueryFilter, queryPages, readPage } from './query.js';

export interface StoredPacket {
  id: string;
  timestampUs: number;
  model: string;
  workloadType: string;
  record: PacketRecord;
  frame: Uint8Array;
}

/** The stored form of a routing decision and the frame it produced. */
export function packetFromDecision(
  id: string,
  timestampUs: number,
  decision: { selected_model: string; workload_type: string; lisp_packet: PacketRecord },
  frame: Uint8Array,
): StoredPacket {
  return {
    id,
    timestampUs,
    model: decision.selected_model,
    workloadType: decision.workload_type,
    record: decision.lisp_packet,
    frame,
  };
}

export interface PacketFilter {
  model?: string;
  workloadType?: string;
  sinceMs?: number;
  untilMs?: number;
}

export interface PacketStats {
  total_packets: number;
  total_bytes: number;
  packets_by_model: Record<string, number>;
  packets_by_workload: Record<string, number>;
  /** Packets routed in the last hour. */
  recent_packets: number;
  avg_packet_size: number;
}

/** Packets a filtered page of recentPage reads at most (DynamoDB reads 1 MB per request). */
export const MAX_FILTERED_READ = 5000;

/** Stored LISP packets: one partition per tenant, sorted by time-ordered ID. */
export class PacketRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly packetsTable: string,
    private readonly tenantsTable: string,
  ) {}

  /**
   * Stores a packet, then bumps the tenant's counters. Throws AlreadyExistsError
   * when the ID is taken. The counter update is best effort (DynamoDB Local
   * stand-ins lack transactions): it returns false rather than failing a
   * packet that is already stored.
   */
  async put(tenant: string, packet: StoredPacket): Promise<{ statsUpdated: boolean }> {
    await storeCall('store packet', async () => {
      try {
        return await this.clients.doc.send(
          new PutCommand({
            TableName: this.packetsTable,
            Item: {
              pk: tenant,
              sk: packet.id,
              ts_us: packet.timestampUs,
              model: packet.model,
              workload_type: packet.workloadType,
              size: packet.frame.length,
              record: packet.record,
              frame: packet.frame,
            },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
        );
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') {
          throw new AlreadyExistsError(`packet ${packet.id} already exists`);
        }
        throw error;
      }
    });
    // Counters are names, not nested maps: ADD on a missing map path fails.
    return this.clients.doc
      .send(
        new UpdateCommand({
          TableName: this.tenantsTable,
          Key: { pk: `TENANT#${tenant}`, sk: 'STATS' },
          UpdateExpression: 'ADD total_packets :one, total_bytes :bytes, #m :one, #w :one',
          ExpressionAttributeNames: {
            '#m': `model:${packet.model}`,
            '#w': `workload:${packet.workloadType}`,
          },
          ExpressionAttributeValues: { ':one': 1, ':bytes': packet.frame.length },
        }),
      )
      .then(
        () => ({ statsUpdated: true }),
        () => ({ statsUpdated: false }),
      );
  }

  async get(tenant: string, id: string): Promise<StoredPacket | undefined> {
    const out = await storeCall('get packet', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.packetsTable, Key: { pk: tenant, sk: id } }),
      ),
    );
    return out.Item ? toStoredPacket(out.Item) : undefined;
  }

  /** Newest first. */
  async recent(tenant: string, count: number, filter: PacketFilter = {}): Promise<StoredPacket[]> {
    const packets: StoredPacket[] = [];
    for await (const item of this.scan(tenant, filter, { newestFirst: true, limit: count })) {
      packets.push(toStoredPacket(item));
    }
    return packets;
  }

  /**
   * One page of the tenant's packets, newest first: `next` (the last packet's
   * id) resumes after it, and is undefined at the end. Packets routed after
   * the first page sort before the position and do not show up in later pages.
   * The time range narrows the key range; model and workload filter what it
   * reads, so a filtered page stops after reading MAX_FILTERED_READ packets
   * and may be short (even empty) with a `next` to go on from.
   */
  async recentPage(
    tenant: string,
    page: { limit: number; after?: string },
    filter: PacketFilter = {},
  ): Promise<{ packets: StoredPacket[]; next?: string }> {
    const { low, high } = packetIdRange(filter.sinceMs, filter.untilMs);
    const query = new QueryFilter({ ':pk': tenant, ':low': low, ':high': high });
    if (filter.model !== undefined) query.where('model', '=', filter.model);
    if (filter.workloadType !== undefined) query.where('workload_type', '=', filter.workloadType);
    const { items, next } = await readPage(
      this.clients.doc,
      'page packets',
      {
        TableName: this.packetsTable,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ...query.input(),
        ScanIndexForward: false,
      },
      {
        pk: tenant,
        limit: page.limit,
        maxRead: query.empty ? page.limit + 1 : Math.max(page.limit + 1, MAX_FILTERED_READ),
        ...pageAfter(page.after),
      },
    );
    return { packets: items.map(toStoredPacket), ...(next !== undefined ? { next } : {}) };
  }

  /**
   * Streams packets page by page (bounded memory), in time order, between two
   * IDs (inclusive), optionally filtered and capped.
   */
  async *select(
    tenant: string,
    filter: PacketFilter,
    options: { newestFirst: boolean; limit: number; fromId?: string; toId?: string },
  ): AsyncGenerator<StoredPacket> {
    for await (const item of this.scan(tenant, filter, options)) yield toStoredPacket(item);
  }

  /** Like select() but reads only IDs: used to find a window before streaming it. */
  async *selectIds(
    tenant: string,
    filter: PacketFilter,
    options: { newestFirst: boolean; limit: number },
  ): AsyncGenerator<string> {
    for await (const item of this.scan(tenant, filter, { ...options, keysOnly: true })) {
      yield String(item.sk);
    }
  }

  async stats(tenant: string, nowMs = Date.now()): Promise<PacketStats> {
    const out = await storeCall('get packet stats', () =>
      this.clients.doc.send(
        new GetCommand({
          TableName: this.tenantsTable,
          Key: { pk: `TENANT#${tenant}`, sk: 'STATS' },
        }),
      ),
    );
    const item = out.Item ?? {};
    const prefixed = (prefix: string) =>
      Object.fromEntries(
        Object.entries(item)
          .filter(([key]) => key.startsWith(prefix))
          .map(([key, value]) => [key.slice(prefix.length), Number(value)]),
      );
    const total = Number(item.total_packets ?? 0);
    const bytes = Number(item.total_bytes ?? 0);
    return {
      total_packets: total,
      total_bytes: bytes,
      packets_by_model: prefixed('model:'),
      packets_by_workload: prefixed('workload:'),
      recent_packets: await this.count(tenant, { sinceMs: nowMs - 3_600_000 }),
      avg_packet_size: total === 0 ? 0 : Math.round((bytes / total) * 100) / 100,
    };
  }

  private async count(tenant: string, filter: PacketFilter): Promise<number> {
    const { low, high } = packetIdRange(filter.sinceMs, filter.untilMs);
    return countQuery(this.clients.doc, 'count packets', {
      TableName: this.packetsTable,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: { ':pk': tenant, ':low': low, ':high': high },
    });
  }

  private async *scan(
    tenant: string,
    filter: PacketFilter,
    options: {
      newestFirst: boolean;
      limit: number;
      fromId?: string;
      toId?: string;
      keysOnly?: boolean;
    },
  ): AsyncGenerator<Record<string, unknown>> {
    const range = packetIdRange(filter.sinceMs, filter.untilMs);
    const low = options.fromId && options.fromId > range.low ? options.fromId : range.low;
    const high = options.toId && options.toId < range.high ? options.toId : range.high;
    if (low > high || options.limit <= 0) return;
    const query = new QueryFilter({ ':pk': tenant, ':low': low, ':high': high });
    if (filter.model !== undefined) query.where('model', '=', filter.model);
    if (filter.workloadType !== undefined) query.where('workload_type', '=', filter.workloadType);
    let remaining = options.limit;
    const pages = queryPages(
      this.clients.doc,
      'query packets',
      {
        TableName: this.packetsTable,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ...query.input(),
        ScanIndexForward: !options.newestFirst,
        ...(options.keysOnly ? { ProjectionExpression: 'sk' } : {}),
      },
      // Without a filter the page can be cut to what is still wanted.
      () => (query.empty ? Math.min(remaining, 1000) : undefined),
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        yield item;
        if (--remaining === 0) return;
      }
    }
  }
}

function toStoredPacket(item: Record<string, unknown>): StoredPacket {
  return {
    id: String(item.sk),
    timestampUs: Number(item.ts_us),
    model: String(item.model),
    workloadType: String(item.workload_type),
    record: item.record as PacketRecord,
    frame: item.frame as Uint8Array,
  };
}
