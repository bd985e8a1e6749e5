import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CipherSuite } from '../../protocol/evidence/format.js';
import type { UploadRequest } from '../../protocol/evidence/upload-messages.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite, padMs } from './conditional.js';
import { storeCall } from './errors.js';
import { pageAfter, QueryFilter, queryPages, readPage } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

/**
 * Evidence segments (issue 11) in the flows table. Two kinds of item:
 * - by id, `SEGMENT#<tenant>` / `<segment id>`: the upload, first 'pending' (what the agent
 *   declared when it asked for a URL, so upload_complete can be checked against it), then
 *   'recorded' once the object was verified;
 * - per agent and time, `SEGMENTS#<tenant>#<agent>` / `<started ms>#<seq>#<segment id>`: the
 *   recorded segment again, for listing an agent's segments over a time window.
 * Both carry the same fields; the tenant is always the agent registry's, never the agent's word.
 */

/** A pending upload that never completes is forgotten after this long. */
export const PENDING_UPLOAD_TTL_SEC = 24 * 3600;
/** S3's lifecycle expires segment objects this many days after upload (PCAP_RETENTION_DAYS). */
export const DEFAULT_SEGMENT_RETENTION_DAYS = 30;
export const SEGMENT_LIST_MAX_LIMIT = 1000;
/** Items a list or window read evaluates at most per request. */
export const SEGMENT_READ_CAP = 5000;

export interface SegmentRecord {
  segment_id: string;
  agent_id: string;
  seq: number;
  bytes: number;
  sha256: string;
  cipher: CipherSuite;
  key_id: string;
  started_at: number;
  ended_at: number;
  packets: number;
  object_key: string;
  /** ISO time the object was verified and the segment recorded. */
  recorded_at: string;
  /** Epoch seconds at which the record (and, by the bucket's lifecycle, the object) expires. */
  expires_at: number;
}

export interface PendingUpload extends Omit<SegmentRecord, 'recorded_at'> {
  status: 'pending';
  requested_at: string;
}

export type SegmentItem = PendingUpload | (SegmentRecord & { status: 'recorded' });

export const segmentIdPartition = (tenant: string) => `SEGMENT#${tenant}`;
export const segmentAgentPartition = (tenant: string, agentId: string) =>
  `SEGMENTS#${tenant}#${agentId}`;

/** Time first, so a window is a key range; then seq (fixed width) and id, unique per agent. */
export function segmentSortKey(s: Pick<SegmentRecord, 'started_at' | 'seq' | 'segment_id'>) {
  return `${padMs(s.started_at * 1000)}#${String(s.seq).padStart(16, '0')}#${s.segment_id}`;
}

/** The object key: everything under the tenant's and agent's prefix, named by segment id. */
export function segmentObjectKey(tenant: string, agentId: string, segmentId: string): string {
  return `tenants/${tenant}/agents/${agentId}/segments/${segmentId}`;
}

const FIELDS = [
  'segment_id',
  'agent_id',
  'seq',
  'bytes',
  'sha256',
  'cipher',
  'key_id',
  'started_at',
  'ended_at',
  'packets',
  'object_key',
  'recorded_at',
  'expires_at',
] as const;

function toRecord(item: Record<string, unknown>): SegmentRecord {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) out[field] = item[field];
  return out as unknown as SegmentRecord;
}

export interface SegmentWindow {
  /** Epoch seconds, inclusive: segments whose [started_at, ended_at] meets [since, until]. */
  since?: number;
  until?: number;
}

export class SegmentRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
    private readonly retentionDays = DEFAULT_SEGMENT_RETENTION_DAYS,
  ) {}

  /** The upload or recorded segment with this id in the tenant, if any. */
  async get(tenant: string, segmentId: string): Promise<SegmentItem | undefined> {
    const out = await storeCall('read segment', () =>
      this.clients.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: segmentIdPartition(tenant), sk: segmentId },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return undefined;
    const status = out.Item.status === 'recorded' ? 'recorded' : 'pending';
    return status === 'recorded'
      ? { ...toRecord(out.Item), status }
      : ({
          ...toRecord(out.Item),
          status,
          requested_at: String(out.Item.requested_at),
        } as PendingUpload);
  }

  /** A recorded segment (pending uploads are not segments yet). */
  async getRecorded(tenant: string, segmentId: string): Promise<SegmentRecord | undefined> {
    const item = await this.get(tenant, segmentId);
    return item?.status === 'recorded' ? item : undefined;
  }

  /**
   * Remembers what the agent declared for an upload. Refused ('taken') when the id is
   * already another agent's, or already recorded (the caller answers from the record).
   */
  async putPending(
    tenant: string,
    agentId: string,
    request: UploadRequest,
    nowMs: number,
  ): Promise<'stored' | 'taken'> {
    const { type: _type, ...declared } = request;
    const item = {
      pk: segmentIdPartition(tenant),
      sk: request.segment_id,
      ...declared,
      agent_id: agentId,
      object_key: segmentObjectKey(tenant, agentId, request.segment_id),
      status: 'pending',
      requested_at: new Date(nowMs).toISOString(),
      [TTL_ATTRIBUTE]: Math.floor(nowMs / 1000) + PENDING_UPLOAD_TTL_SEC,
    };
    const won = await storeCall('store pending upload', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: item,
            // A re-request by the same agent (after a crash) replaces its own pending upload.
            ConditionExpression:
              'attribute_not_exists(pk) OR (#status = :pending AND agent_id = :agent)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':pending': 'pending', ':agent': agentId },
          }),
        ),
      ),
    );
    return won ? 'stored' : 'taken';
  }

  /**
   * Turns a verified pending upload into a recorded segment: the id item flips to
   * 'recorded' (once), then the agent's timeline item is written (idempotent, so a
   * retry after a failure between the two completes it).
   */
  async record(tenant: string, pending: PendingUpload, nowMs: number): Promise<SegmentRecord> {
    const recordedAt = new Date(nowMs).toISOString();
    const expiresAt = Math.floor(nowMs / 1000) + this.retentionDays * 86_400;
    await storeCall('record segment', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: segmentIdPartition(tenant), sk: pending.segment_id },
            UpdateExpression:
              'SET #status = :recorded, recorded_at = :at, #ttl = :ttl REMOVE requested_at',
            ConditionExpression: '#status = :pending AND agent_id = :agent',
            ExpressionAttributeNames: { '#status': 'status', '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: {
              ':recorded': 'recorded',
              ':pending': 'pending',
              ':agent': pending.agent_id,
              ':at': recordedAt,
              ':ttl': expiresAt,
            },
          }),
        ),
      ),
    );
    // Whoever won, the id item now says what was recorded: copy exactly that.
    const recorded = await this.getRecorded(tenant, pending.segment_id);
    const record = recorded ?? { ...toRecord({ ...pending }), recorded_at: recordedAt };
    await storeCall('store segment timeline', () =>
      this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: segmentAgentPartition(tenant, record.agent_id),
            sk: segmentSortKey(record),
            ...record,
          },
        }),
      ),
    );
    return record;
  }

  /** One page of an agent's recorded segments meeting the window, oldest (or newest) first. */
  async page(
    tenant: string,
    agentId: string,
    request: SegmentWindow & { limit: number; after?: string; order?: 'asc' | 'desc' },
  ): Promise<{ segments: SegmentRecord[]; next?: string }> {
    const pk = segmentAgentPartition(tenant, agentId);
    const query = this.windowQuery(pk, request, request.order !== 'desc');
    const page = await readPage(this.clients.doc, 'list segments', query, {
      pk,
      limit: request.limit,
      maxRead: SEGMENT_READ_CAP,
      ...pageAfter(request.after),
    });
    return {
      segments: page.items.map(toRecord),
      ...(page.next !== undefined ? { next: page.next } : {}),
    };
  }

  /**
   * Every recorded segment of one agent meeting the window, oldest first; stops with
   * `truncated` after `max` (a window download refuses what it cannot hold whole).
   */
  async window(
    tenant: string,
    agentId: string,
    window: SegmentWindow,
    max: number,
  ): Promise<{ segments: SegmentRecord[]; truncated: boolean }> {
    const pk = segmentAgentPartition(tenant, agentId);
    const segments: SegmentRecord[] = [];
    for await (const page of queryPages(this.clients.doc, 'read segment window', {
      ...this.windowQuery(pk, window),
    })) {
      for (const item of page.Items ?? []) {
        if (segments.length === max) return { segments, truncated: true };
        segments.push(toRecord(item));
      }
    }
    return { segments, truncated: false };
  }

  /** started_at <= until is a key range; ended_at >= since is a filter. */
  private windowQuery(pk: string, window: SegmentWindow, forward = true) {
    const filter = new QueryFilter({
      ':pk': pk,
      ':high': window.until === undefined ? '~' : `${padMs(window.until * 1000)}#~`,
    });
    if (window.since !== undefined) filter.where('ended_at', '>=', window.since);
    return {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk <= :high',
      ScanIndexForward: forward,
      ...filter.input(),
    };
  }
}
