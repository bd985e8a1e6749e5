import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { AlreadyExistsError, storeCall } from './errors.js';
import type { PacketFilter } from './packets.js';
import { TTL_ATTRIBUTE } from './schema.js';

export type ExportStatus = 'queued' | 'running' | 'done' | 'failed';
export type ExportFormat = 'pcap' | 'pcapng';

/** What to export: the newest `count` packets matching `filter`, in time order. */
export interface ExportRequest {
  count: number;
  format: ExportFormat;
  filter: PacketFilter;
}

/** An evidence window too large to assemble inside an API request (functions/evidence/window-job.ts). */
export interface WindowJobRequest {
  kind: 'window';
  agentIds: string[];
  /** Epoch seconds, inclusive. */
  since: number;
  until: number;
}

/** What a job builds: a PCAP export (no `kind`, as jobs before windows were stored) or a window. */
export type JobRequest = ExportRequest | WindowJobRequest;

export const isWindowJob = (request: JobRequest): request is WindowJobRequest =>
  'kind' in request && request.kind === 'window';

export interface ExportJob {
  exportId: string;
  tenant: string;
  status: ExportStatus;
  request: JobRequest;
  /** Epoch seconds. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Packets and bytes written so far (final once done). */
  packets: number;
  bytes: number;
  /** A window job's segments and the sequence numbers missing between them, once done. */
  window: WindowSummary | null;
  /** The S3 object, once done. */
  file: { key: string; filename: string; contentType: string; disposition: string } | null;
  error: { code: string; message: string } | null;
  /** Epoch seconds after which the job is gone (DynamoDB TTL; reads treat it as gone at once). */
  expiresAt: number;
}

/** What a finished window job holds (the signed manifest, in S3, lists them). */
export interface WindowSummary {
  segments: number;
  /** How many sequence numbers, in all, are missing between each agent's first and last. */
  missing_seqs: number;
}

/** What a finished job built. */
export interface JobResult {
  packets: number;
  bytes: number;
  file: NonNullable<ExportJob['file']>;
  window?: WindowSummary;
}

/** Job records outlive the presigned URLs they hand out; the files follow the bucket's lifecycle. */
export const EXPORT_JOB_TTL_SEC = 24 * 3600;
/** An export `running` for longer than this has died with its worker (a Lambda runs 15 min at most). */
export const EXPORT_STALE_AFTER_SEC = 15 * 60;

/** One partition per tenant: another tenant's export id finds nothing. */
export const exportJobKey = (tenant: string, exportId: string) => ({
  pk: `EXPORTS#${tenant}`,
  sk: exportId,
});

function toJob(item: Record<string, unknown>): ExportJob {
  return {
    exportId: String(item.sk),
    tenant: String(item.tenant),
    status: item.status as ExportStatus,
    request: item.request as JobRequest,
    createdAt: Number(item.created_at),
    startedAt: item.started_at === undefined ? null : Number(item.started_at),
    finishedAt: item.finished_at === undefined ? null : Number(item.finished_at),
    packets: Number(item.packets ?? 0),
    bytes: Number(item.bytes ?? 0),
    window: (item.window as WindowSummary | undefined) ?? null,
    file: (item.file as ExportJob['file'] | undefined) ?? null,
    error: (item.error as ExportJob['error'] | undefined) ?? null,
    expiresAt: Number(item[TTL_ATTRIBUTE]),
  };
}

/**
 * Asynchronous jobs (PCAP exports and evidence windows), kept in the flows table (it has TTL on
 * `expires_at`). Every transition is a conditional write, so a worker that
 * is delivered twice (Lambda's asynchronous retries) runs a job once.
 */
export class ExportJobRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  async create(
    tenant: string,
    exportId: string,
    request: JobRequest,
    nowSec: number,
  ): Promise<ExportJob> {
    const item = {
      ...exportJobKey(tenant, exportId),
      tenant,
      status: 'queued',
      request,
      created_at: nowSec,
      packets: 0,
      bytes: 0,
      [TTL_ATTRIBUTE]: Math.floor(nowSec) + EXPORT_JOB_TTL_SEC,
    };
    const created = await storeCall('create export job', () =>
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
    if (!created) throw new AlreadyExistsError(`export ${exportId} already exists`);
    return toJob(item);
  }

  /** The tenant's job, or undefined when unknown, another tenant's, or past its expiry. */
  async get(tenant: string, exportId: string, nowSec: number): Promise<ExportJob | undefined> {
    const out = await storeCall('get export job', () =>
      this.clients.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: exportJobKey(tenant, exportId),
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item || out.Item.tenant !== tenant) return undefined;
    const job = toJob(out.Item);
    // DynamoDB deletes expired items lazily (within days): hide them at once.
    return job.expiresAt <= nowSec ? undefined : job;
  }

  /**
   * Takes a queued job (or one whose worker died) for a worker: it becomes
   * `running`. Undefined when another worker has it or it is finished.
   */
  async claim(tenant: string, exportId: string, nowSec: number): Promise<ExportJob | undefined> {
    let claimed: Record<string, unknown> | undefined;
    await storeCall('claim export job', () =>
      conditionalWrite(async () => {
        const out = await this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: exportJobKey(tenant, exportId),
            UpdateExpression:
              'SET #st = :running, started_at = :now, packets = :zero, bytes = :zero',
            ConditionExpression:
              'attribute_exists(sk) AND (#st = :queued OR (#st = :running AND started_at < :stale))',
            ExpressionAttributeNames: { '#st': 'status' },
            ExpressionAttributeValues: {
              ':running': 'running',
              ':queued': 'queued',
              ':now': nowSec,
              ':zero': 0,
              ':stale': nowSec - EXPORT_STALE_AFTER_SEC,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        claimed = out.Attributes;
      }),
    );
    return claimed ? toJob(claimed) : undefined;
  }

  /** Progress of a running job (best effort: a lost update only delays the figures). */
  async progress(tenant: string, exportId: string, packets: number, bytes: number): Promise<void> {
    await storeCall('update export progress', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: exportJobKey(tenant, exportId),
            UpdateExpression: 'SET packets = :p, bytes = :b',
            ConditionExpression: '#st = :running',
            ExpressionAttributeNames: { '#st': 'status' },
            ExpressionAttributeValues: { ':p': packets, ':b': bytes, ':running': 'running' },
          }),
        ),
      ),
    );
  }

  /** running → done, with the file. False when the job was not running (taken over, failed). */
  async finish(
    tenant: string,
    exportId: string,
    result: JobResult,
    nowSec: number,
  ): Promise<boolean> {
    const window = result.window ?? null;
    return storeCall('finish export job', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: exportJobKey(tenant, exportId),
            UpdateExpression: `SET #st = :done, packets = :p, bytes = :b, #file = :f, finished_at = :now${window === null ? '' : ', #win = :w'}`,
            ConditionExpression: '#st = :running',
            // STATUS, FILE and WINDOW are DynamoDB reserved words.
            ExpressionAttributeNames: {
              '#st': 'status',
              '#file': 'file',
              ...(window === null ? {} : { '#win': 'window' }),
            },
            ExpressionAttributeValues: {
              ':done': 'done',
              ':running': 'running',
              ':p': result.packets,
              ':b': result.bytes,
              ':f': result.file,
              ':now': nowSec,
              ...(window === null ? {} : { ':w': window }),
            },
          }),
        ),
      ),
    );
  }

  /** queued/running → failed, with a reason the client sees. False when already finished. */
  async fail(
    tenant: string,
    exportId: string,
    error: { code: string; message: string },
    nowSec: number,
  ): Promise<boolean> {
    return storeCall('fail export job', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: exportJobKey(tenant, exportId),
            UpdateExpression: 'SET #st = :failed, #err = :e, finished_at = :now',
            ConditionExpression: '#st IN (:queued, :running)',
            ExpressionAttributeNames: { '#st': 'status', '#err': 'error' },
            ExpressionAttributeValues: {
              ':failed': 'failed',
              ':queued': 'queued',
              ':running': 'running',
              ':e': error,
              ':now': nowSec,
            },
          }),
        ),
      ),
    );
  }
}
