import { type Context, Hono } from 'hono';
import {
  buildCaptureFile,
  describeDownload,
  type PcapDownload,
  type PcapExportRequest,
  presignCaptureFile,
} from '../../pcap/export.js';
import { EXPORT_ID_PATTERN, exportJobView, newExportId } from '../../pcap/export-job.js';
import { planExport } from '../../pcap/export-plan.js';
import type { PcapExportService } from '../../pcap/export-runner.js';
import type { ExportJob } from '../../store/export-jobs.js';
import type { AppDeps, AppEnv } from '../env.js';
import { ApiError, NotFoundError } from '../errors.js';

/** Seconds a client should wait between status polls. */
const POLL_AFTER_SEC = 2;

/** RFC 7240: the client would rather get 202 and a status URL than wait. */
export function prefersAsync(c: Context): boolean {
  return (c.req.header('prefer') ?? '')
    .split(',')
    .some((preference) => preference.split(';')[0]!.trim().toLowerCase() === 'respond-async');
}

const wantsJson = (c: Context) => (c.req.header('accept') ?? '').includes('application/json');
const nowSecOf = (deps: AppDeps) => (deps.now?.() ?? Date.now()) / 1000;

/** Records the job, hands it to the runner, answers 202 with where to ask. */
async function startExportJob(
  c: Context<AppEnv>,
  deps: AppDeps,
  service: PcapExportService,
  request: PcapExportRequest,
): Promise<Response> {
  const tenant = c.get('tenant').name;
  const exportId = newExportId();
  const nowMs = deps.now?.() ?? Date.now();
  // The newest packets as of now: ones routed while the job waits are not in it.
  const filter = { ...request.filter, untilMs: request.filter.untilMs ?? nowMs };
  await service.jobs.create(
    tenant,
    exportId,
    { count: request.count, format: request.format, filter },
    nowMs / 1000,
  );
  try {
    await service.runner.start({ tenant, export_id: exportId });
  } catch (error) {
    deps.logger.warn('export not started', {
      exportId,
      error: (error as Error).message,
    });
    await service.jobs
      .fail(
        tenant,
        exportId,
        { code: 'export_not_started', message: 'the export could not be started' },
        nowMs / 1000,
      )
      .catch(() => undefined);
    throw new ApiError(503, 'export_unavailable', 'the export could not be started; retry shortly');
  }
  const statusUrl = new URL(`/api/v1/packets/exports/${exportId}`, c.req.url).toString();
  c.header('Location', statusUrl);
  c.header('Cache-Control', 'no-store');
  c.header('Retry-After', String(POLL_AFTER_SEC));
  if (prefersAsync(c)) c.header('Preference-Applied', 'respond-async');
  return c.json({ export_id: exportId, status: 'queued', status_url: statusUrl }, 202);
}

/**
 * A multi-packet download: built now when it is small (the caller answers
 * 302 or JSON), or, when the client prefers it or more than the threshold
 * match, an export job (202). Without an export service (no runner), every
 * download is built now, as before.
 */
export async function downloadOrExport(
  c: Context<AppEnv>,
  deps: AppDeps,
  request: PcapExportRequest,
): Promise<PcapDownload | Response> {
  const tenant = c.get('tenant').name;
  const service = deps.pcapExports;
  if (service && prefersAsync(c)) return startExportJob(c, deps, service, request);
  const plan = await planExport(
    deps.packets,
    tenant,
    request,
    service ? { stopAfter: service.asyncThreshold } : {},
  );
  if (plan.exceeds && service) return startExportJob(c, deps, service, request);
  const pcapDeps = { packets: deps.packets, s3: deps.s3, bucket: deps.pcapBucket };
  const now = new Date(deps.now?.() ?? Date.now());
  const file = await buildCaptureFile(pcapDeps, tenant, request, plan, { now });
  const link = await presignCaptureFile(
    { s3: deps.s3, bucket: deps.pcapBucket, urlTtlSeconds: deps.urlTtlSeconds },
    file,
    now,
  );
  return describeDownload(file, link);
}

const iso = (sec: number | null) => (sec === null ? undefined : new Date(sec * 1000).toISOString());

/** The job as the API shows it (no store internals). */
function jobBody(job: ExportJob, link?: { url: string; expires_at: string }) {
  return {
    export_id: job.exportId,
    status: job.status,
    format: job.request.format,
    count: job.request.count,
    packets: job.packets,
    bytes: job.bytes,
    created_at: iso(job.createdAt),
    ...(job.startedAt !== null ? { started_at: iso(job.startedAt) } : {}),
    ...(job.finishedAt !== null ? { finished_at: iso(job.finishedAt) } : {}),
    ...(job.file ? { filename: job.file.filename, content_type: job.file.contentType } : {}),
    ...(link ? { url: link.url, expires_at: link.expires_at } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** GET /packets/exports/{id}: a job's status; once done, a 302 to a fresh presigned URL. */
export function packetExportRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get('/packets/exports/:id', async (c) => {
    const id = c.req.param('id');
    const nowSec = nowSecOf(deps);
    const stored =
      deps.pcapExports && EXPORT_ID_PATTERN.test(id)
        ? await deps.pcapExports.jobs.get(c.get('tenant').name, id, nowSec)
        : undefined;
    // Unknown, expired and other tenants' exports alike are 404.
    if (!stored) throw new NotFoundError(`no export "${id.slice(0, 40)}"`, 'export_not_found');
    const job = exportJobView(stored, nowSec);
    c.header('Cache-Control', 'no-store');
    if (job.status !== 'done' || !job.file) {
      if (job.status === 'queued' || job.status === 'running') {
        c.header('Retry-After', String(POLL_AFTER_SEC));
      }
      return c.json(jobBody(job));
    }
    const link = await presignCaptureFile(
      { s3: deps.s3, bucket: deps.pcapBucket, urlTtlSeconds: deps.urlTtlSeconds },
      job.file,
      new Date(nowSec * 1000),
    );
    if (wantsJson(c)) return c.json(jobBody(job, link));
    return c.redirect(link.url, 302);
  });
}
