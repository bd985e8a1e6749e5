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
import {
  type ExportJob,
  type ExportRequest,
  isWindowJob,
  type JobRequest,
} from '../../store/export-jobs.js';
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

export const wantsJson = (c: Context) =>
  (c.req.header('accept') ?? '').includes('application/json');
const nowSecOf = (deps: AppDeps) => (deps.now?.() ?? Date.now()) / 1000;

/**
 * Records a job, hands it to the runner and says where to ask: the status URL (Location),
 * the headers of a 202. The caller answers 202 with its own body.
 */
export async function startJob(
  c: Context<AppEnv>,
  deps: AppDeps,
  service: PcapExportService,
  job: { id: string; request: JobRequest; statusPath: string },
): Promise<string> {
  const tenant = c.get('tenant').name;
  const nowSec = nowSecOf(deps);
  await service.jobs.create(tenant, job.id, job.request, nowSec);
  try {
    await service.runner.start({ tenant, export_id: job.id });
  } catch (error) {
    deps.logger.warn('job not started', { jobId: job.id, error: (error as Error).message });
    await service.jobs
      .fail(
        tenant,
        job.id,
        { code: 'export_not_started', message: 'the job could not be started' },
        nowSec,
      )
      .catch(() => undefined);
    throw new ApiError(503, 'export_unavailable', 'the job could not be started; retry shortly');
  }
  const statusUrl = new URL(`/api/v1${job.statusPath}`, c.req.url).toString();
  c.header('Location', statusUrl);
  c.header('Cache-Control', 'no-store');
  c.header('Retry-After', String(POLL_AFTER_SEC));
  if (prefersAsync(c)) c.header('Preference-Applied', 'respond-async');
  return statusUrl;
}

/** The export as a job: 202 with where to ask. */
async function startExportJob(
  c: Context<AppEnv>,
  deps: AppDeps,
  service: PcapExportService,
  request: PcapExportRequest,
): Promise<Response> {
  const exportId = newExportId();
  // The newest packets as of now: ones routed while the job waits are not in it.
  const untilMs = request.filter.untilMs ?? deps.now?.() ?? Date.now();
  const statusUrl = await startJob(c, deps, service, {
    id: exportId,
    request: {
      count: request.count,
      format: request.format,
      filter: { ...request.filter, untilMs },
    },
    statusPath: `/packets/exports/${exportId}`,
  });
  return c.json({ export_id: exportId, status: 'queued', status_url: statusUrl }, 202);
}

/**
 * Shared by every job's status route: the job as a client should see it (one whose worker died
 * is failed), or a 404 naming `what` for unknown, expired, other tenants' and other kinds' jobs.
 */
export async function findJob(
  c: Context<AppEnv>,
  deps: AppDeps,
  id: string,
  what: { pattern: RegExp; notFound: string; noun: string },
): Promise<ExportJob> {
  const nowSec = nowSecOf(deps);
  const stored =
    deps.pcapExports && what.pattern.test(id)
      ? await deps.pcapExports.jobs.get(c.get('tenant').name, id, nowSec)
      : undefined;
  if (!stored) throw new NotFoundError(`no ${what.noun} "${id.slice(0, 40)}"`, what.notFound);
  const job = exportJobView(stored, nowSec);
  c.header('Cache-Control', 'no-store');
  if (job.status === 'queued' || job.status === 'running') {
    c.header('Retry-After', String(POLL_AFTER_SEC));
  }
  return job;
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

/** What every job's status shows: its state, times and, when failed, why. */
export function jobTimes(job: ExportJob) {
  return {
    status: job.status,
    created_at: iso(job.createdAt),
    ...(job.startedAt !== null ? { started_at: iso(job.startedAt) } : {}),
    ...(job.finishedAt !== null ? { finished_at: iso(job.finishedAt) } : {}),
  };
}

/** The export job as the API shows it (no store internals). */
function jobBody(
  job: ExportJob,
  request: ExportRequest,
  link?: { url: string; expires_at: string },
) {
  return {
    export_id: job.exportId,
    ...jobTimes(job),
    format: request.format,
    count: request.count,
    packets: job.packets,
    bytes: job.bytes,
    ...(job.file ? { filename: job.file.filename, content_type: job.file.contentType } : {}),
    ...(link ? { url: link.url, expires_at: link.expires_at } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** GET /packets/exports/{id}: a job's status; once done, a 302 to a fresh presigned URL. */
export function packetExportRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get('/packets/exports/:id', async (c) => {
    const job = await findJob(c, deps, c.req.param('id'), {
      pattern: EXPORT_ID_PATTERN,
      notFound: 'export_not_found',
      noun: 'export',
    });
    const request = job.request;
    if (isWindowJob(request)) throw new NotFoundError('no such export', 'export_not_found');
    if (job.status !== 'done' || !job.file) return c.json(jobBody(job, request));
    const link = await presignCaptureFile(
      { s3: deps.s3, bucket: deps.pcapBucket, urlTtlSeconds: deps.urlTtlSeconds },
      job.file,
      new Date(nowSecOf(deps) * 1000),
    );
    if (wantsJson(c)) return c.json(jobBody(job, request, link));
    return c.redirect(link.url, 302);
  });
}
