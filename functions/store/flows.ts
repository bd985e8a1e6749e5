import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { type FlowRecordMessage, flowRecordSchema } from '../../protocol/agent-messages.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite, padMs } from './conditional.js';
import { storeCall } from './errors.js';
import { countQuery, pageAfter, QueryFilter, queryPages, readPage } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

export interface StoredFlow extends FlowRecordMessage {
  agent_id: string;
}

export type FlowSortKey = 'packets' | 'bytes' | 'duration';

export interface FlowQuery {
  agentId?: string;
  /** Epoch seconds, inclusive, on last_seen. */
  since?: number;
  until?: number;
  /** 1..FLOW_QUERY_MAX_LIMIT. */
  limit: number;
  minPackets: number;
  sortBy: FlowSortKey;
}

/** One page of every stored record of a window, in store order (newest last_seen first). */
export interface FlowPageQuery {
  agentId?: string;
  since?: number;
  until?: number;
  minPackets: number;
  /** 1..FLOW_QUERY_MAX_LIMIT. */
  limit: number;
  /** The position a page token holds: resume after this record. */
  after?: string;
}

/** Flow items expire this many days after their last_seen (DynamoDB TTL). */
export const FLOW_TTL_DAYS = 14;
/** Puts in flight per putBatch call. */
export const FLOW_WRITE_CONCURRENCY = 16;
export const FLOW_QUERY_MAX_LIMIT = 1000;
/**
 * A query reads at most this many items of its time range, newest first,
 * before sorting: "top flows by bytes" is exact within the newest 20 000
 * flows of the range and approximate beyond. Narrow the range for more.
 */
export const FLOW_QUERY_READ_CAP = 20_000;

const RECORD_FIELDS = Object.keys(flowRecordSchema.shape) as (keyof FlowRecordMessage)[];
const SORT_FIELD = { packets: 'packets', bytes: 'bytes', duration: 'duration_sec' } as const;

export const flowPartition = (tenant: string) => `FLOWS#${tenant}`;

/**
 * Deterministic per record: a redelivered record maps to the same key, and the
 * conditional put turns it into a duplicate instead of a second copy. Time first,
 * so a time window is a key range. The agent id (from the topic) is part of the
 * key, so one agent cannot shadow another's records by reusing their ids.
 */
export function flowSortKey(
  agentId: string,
  record: Pick<FlowRecordMessage, 'last_seen' | 'record_id'>,
): string {
  return `${padMs(record.last_seen * 1000)}#${agentId}#${record.record_id}`;
}

/** The sort-key range covering last_seen in [since, until] (whole milliseconds; callers trim exactly). */
export function flowKeyRange(since?: number, until?: number): { low: string; high: string } {
  return {
    low: since === undefined ? padMs(0) : padMs(since * 1000),
    high: until === undefined ? '~' : `${padMs(until * 1000)}#~`,
  };
}

/**
 * Epoch seconds at which a flow item expires: counted from its last packet, but
 * never from before it was stored (a replayed old capture must not expire at once).
 */
export function flowExpiry(
  record: Pick<FlowRecordMessage, 'last_seen'>,
  nowSec = Date.now() / 1000,
): number {
  return Math.floor(Math.max(record.last_seen, nowSec)) + FLOW_TTL_DAYS * 86_400;
}

/**
 * The flow slice a record describes. An agent may export a long flow several
 * times (active snapshots, then its final record); all of them share this key,
 * and a query shows only the newest.
 */
export function flowSliceKey(flow: StoredFlow): string {
  return [
    flow.agent_id,
    flow.ip_version,
    flow.src_ip,
    flow.dst_ip,
    flow.src_port,
    flow.dst_port,
    flow.protocol,
    flow.vlan_id,
    flow.first_seen,
  ].join('|');
}

/** Highest sortBy first; ties newest first, then by record id, so results are stable. */
export function compareFlows(sortBy: FlowSortKey): (a: StoredFlow, b: StoredFlow) => number {
  const field = SORT_FIELD[sortBy];
  return (a, b) =>
    b[field] - a[field] ||
    b.last_seen - a.last_seen ||
    (a.record_id < b.record_id ? -1 : a.record_id > b.record_id ? 1 : 0);
}

function toStoredFlow(item: Record<string, unknown>): StoredFlow {
  const flow: Record<string, unknown> = { agent_id: String(item.agent_id) };
  for (const field of RECORD_FIELDS) flow[field] = item[field] ?? null;
  return flow as unknown as StoredFlow;
}

/** Flow records from agents: one partition per tenant, time-ordered, expiring by TTL. */
export class FlowRepository {
  private readonly readCap: number;

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
    /** readCap: items a query reads at most (default FLOW_QUERY_READ_CAP; tests lower it). */
    options: { readCap?: number } = {},
  ) {
    this.readCap = options.readCap ?? FLOW_QUERY_READ_CAP;
  }

  /**
   * Writes each record with a conditional put on its deterministic key, at most
   * FLOW_WRITE_CONCURRENCY at a time. Safe to repeat: records already stored
   * count as duplicates. A store failure rejects; what was written stays, and a
   * retry of the whole batch writes only the rest.
   */
  async putBatch(
    tenant: string,
    agentId: string,
    records: FlowRecordMessage[],
  ): Promise<{ written: number; duplicates: number }> {
    let written = 0;
    let duplicates = 0;
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < records.length) {
        const record = records[next++]!;
        // Only known fields are stored: the agent id comes from the caller, never the record.
        const item: Record<string, unknown> = {};
        for (const field of RECORD_FIELDS) item[field] = record[field];
        Object.assign(item, {
          pk: flowPartition(tenant),
          sk: flowSortKey(agentId, record),
          agent_id: agentId,
          [TTL_ATTRIBUTE]: flowExpiry(record),
        });
        try {
          const applied = await storeCall('store flow', () =>
            conditionalWrite(() =>
              this.clients.doc.send(
                new PutCommand({
                  TableName: this.table,
                  Item: item,
                  ConditionExpression: 'attribute_not_exists(sk)',
                }),
              ),
            ),
          );
          if (applied) written++;
          else duplicates++;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const workers = Math.min(FLOW_WRITE_CONCURRENCY, records.length);
    await Promise.all(Array.from({ length: workers }, worker));
    return { written, duplicates };
  }

  async query(tenant: string, q: FlowQuery): Promise<StoredFlow[]> {
    return (await this.queryWithInfo(tenant, q)).flows;
  }

  /**
   * query() plus how many items were read and whether the read cap
   * (FLOW_QUERY_READ_CAP) cut the range short: older flows in the range were
   * then not considered.
   */
  async queryWithInfo(
    tenant: string,
    q: FlowQuery,
  ): Promise<{ flows: StoredFlow[]; scanned: number; truncated: boolean }> {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > FLOW_QUERY_MAX_LIMIT) {
      throw new RangeError(`limit must be an integer from 1 to ${FLOW_QUERY_MAX_LIMIT}`);
    }
    const { low, high } = flowKeyRange(q.since, q.until);
    if (low > high) return { flows: [], scanned: 0, truncated: false };
    const filter = new QueryFilter({ ':pk': flowPartition(tenant), ':low': low, ':high': high });
    if (q.agentId !== undefined) filter.where('agent_id', '=', q.agentId);
    if (q.minPackets > 0) filter.where('packets', '>=', q.minPackets);
    const newest = new Map<string, StoredFlow>();
    let scanned = 0;
    let truncated = false;
    const pages = queryPages(
      this.clients.doc,
      'query flows',
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ...filter.input(),
        ScanIndexForward: false,
      },
      () => Math.min(1000, this.readCap - scanned),
    );
    for await (const page of pages) {
      scanned += page.ScannedCount ?? page.Items?.length ?? 0;
      for (const item of page.Items ?? []) {
        const flow = toStoredFlow(item);
        // Keys hold whole milliseconds; trim the window's edges exactly.
        if (q.since !== undefined && flow.last_seen < q.since) continue;
        if (q.until !== undefined && flow.last_seen > q.until) continue;
        // Newest first, so the first copy of a slice is its latest export.
        const slice = flowSliceKey(flow);
        if (!newest.has(slice)) newest.set(slice, flow);
      }
      if (scanned >= this.readCap) {
        truncated = page.LastEvaluatedKey !== undefined;
        break;
      }
    }
    const flows = [...newest.values()].sort(compareFlows(q.sortBy)).slice(0, q.limit);
    return { flows, scanned, truncated };
  }

  /**
   * One page of the window's records in store order: newest last_seen first,
   * every stored export (a long flow's active snapshots and its final record
   * each count). `next` resumes after the last record returned; it is
   * undefined at the end. A page reads at most the read cap, so under a
   * selective filter it may be short, or empty, and still have a `next`.
   */
  async page(tenant: string, q: FlowPageQuery): Promise<{ flows: StoredFlow[]; next?: string }> {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > FLOW_QUERY_MAX_LIMIT) {
      throw new RangeError(`limit must be an integer from 1 to ${FLOW_QUERY_MAX_LIMIT}`);
    }
    const { low, high } = flowKeyRange(q.since, q.until);
    if (low > high) return { flows: [] };
    const pk = flowPartition(tenant);
    const filter = new QueryFilter({ ':pk': pk, ':low': low, ':high': high });
    if (q.agentId !== undefined) filter.where('agent_id', '=', q.agentId);
    if (q.minPackets > 0) filter.where('packets', '>=', q.minPackets);
    const { items, next } = await readPage(
      this.clients.doc,
      'page flows',
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ...filter.input(),
        ScanIndexForward: false,
      },
      {
        pk,
        limit: q.limit,
        ...pageAfter(q.after),
        maxRead: this.readCap,
        // Keys hold whole milliseconds; trim the window's edges exactly.
        keep: (item) => {
          const lastSeen = Number(item.last_seen);
          return !(
            (q.since !== undefined && lastSeen < q.since) ||
            (q.until !== undefined && lastSeen > q.until)
          );
        },
      },
    );
    return { flows: items.map(toStoredFlow), ...(next !== undefined ? { next } : {}) };
  }

  /** Stored flow items (every export counts), optionally for one agent. */
  async count(tenant: string, agentId?: string): Promise<number> {
    const filter = new QueryFilter({ ':pk': flowPartition(tenant) });
    if (agentId !== undefined) filter.where('agent_id', '=', agentId);
    return countQuery(this.clients.doc, 'count flows', {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ...filter.input(),
    });
  }
}
