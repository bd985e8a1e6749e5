import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { ManifestSigner } from '../evidence/manifest-signer.js';
import { AssemblyUnavailableError } from '../evidence/window-assembly.js';
import { EmptyWindowError, WindowTooLargeError } from '../evidence/window-download.js';
import { buildWindowJob, WINDOW_JOB_ID_PATTERN } from '../evidence/window-job.js';
import { createLogger, type Logger } from '../logger.js';
import { createStoreClients, type StoreClients } from '../store/clients.js';
import type { StoreConfig } from '../store/config.js';
import { StoreUnavailableError } from '../store/errors.js';
import {
  EXPORT_STALE_AFTER_SEC,
  type ExportJob,
  ExportJobRepository,
  type ExportStatus,
  isWindowJob,
  type JobResult,
} from '../store/export-jobs.js';
import { ManifestKeyRepository } from '../store/manifest-key.js';
import { PacketRepository } from '../store/packets.js';
import { SegmentRepository } from '../store/segments.js';
import { TENANT_NAME_PATTERN } from '../store/tenants.js';
import { buildCaptureFile, NoPacketsError, type PcapExportDeps } from './export.js';
import { planExport } from './export-plan.js';
import type { FileStreamCounters } from './file-stream.js';

export const EXPORT_ID_PATTERN = /^exp_[0-9a-f]{24}$/;
export const newExportId = () => `exp_${randomBytes(12).toString('hex')}`;

/**
 * What a worker is handed (the Lambda event): which job, a PCAP export (exp_...) or an evidence
 * window (win_...). The job record says what to build.
 */
export const exportRefSchema = z.strictObject({
  tenant: z.string().regex(TENANT_NAME_PATTERN),
  export_id: z
    .string()
    .refine((id) => EXPORT_ID_PATTERN.test(id) || WINDOW_JOB_ID_PATTERN.test(id), 'not a job id'),
});
export type ExportRef = z.infer<typeof exportRefSchema>;

export interface ExportWorkerDeps extends PcapExportDeps {
  exportJobs: ExportJobRepository;
  /** For window jobs: the segment records and the key that signs manifests. */
  segments: SegmentRepository;
  signer: ManifestSigner;
  logger: Logger;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
}

/** How often a running job's packet and byte counts are written back. */
const PROGRESS_EVERY_MS = 2000;

/** The worker's repositories and clients from a store configuration (Lambda, local stack). */
export function createExportWorkerDeps(
  config: StoreConfig,
  options: {
    clients?: StoreClients;
    logger?: Logger;
    packets?: PacketRepository;
    manifestKey?: ManifestKeyRepository;
  } = {},
): ExportWorkerDeps & { clients: StoreClients } {
  const clients = options.clients ?? createStoreClients(config);
  return {
    clients,
    packets:
      options.packets ?? new PacketRepository(clients, config.packetsTable, config.tenantsTable),
    exportJobs: new ExportJobRepository(clients, config.flowsTable),
    segments: new SegmentRepository(clients, config.flowsTable, config.segmentRetentionDays),
    signer: new ManifestSigner(
      options.manifestKey ?? new ManifestKeyRepository(clients, config.tenantsTable),
    ),
    s3: clients.s3,
    bucket: config.pcapBucket,
    // The worker builds files; the status endpoint presigns them with its own TTL.
    urlTtlSeconds: 60,
    logger: options.logger ?? createLogger('pcap-export'),
  };
}

/** The error a client sees for a failed export: a code and a message without internals. */
function exportFailure(error: unknown, signal?: AbortSignal): { code: string; message: string } {
  if (error instanceof NoPacketsError) return { code: 'no_packets', message: error.message };
  if (error instanceof EmptyWindowError) return { code: 'no_segments', message: error.message };
  if (error instanceof WindowTooLargeError) {
    return { code: 'window_too_large', message: error.message };
  }
  if (error instanceof AssemblyUnavailableError) {
    return { code: 'window_assembly_unavailable', message: error.message };
  }
  if (signal?.aborted) {
    return {
      code: 'export_interrupted',
      message:
        'the export was stopped before it finished (server shutdown or time limit); start it again',
    };
  }
  if (error instanceof StoreUnavailableError) {
    return {
      code: 'store_unavailable',
      message: 'the store failed during the export; start it again',
    };
  }
  return { code: 'export_failed', message: 'the export failed; start it again' };
}

/**
 * Runs one export job: claims it (a second delivery of the same job finds it
 * taken and does nothing), builds the file into S3 and records the result.
 * A failure is recorded on the job for the client to see; the promise then
 * resolves 'failed'. It rejects only when the failure cannot be recorded.
 */
export async function runExportJob(
  deps: ExportWorkerDeps,
  ref: ExportRef,
  options: { signal?: AbortSignal } = {},
): Promise<ExportStatus | 'skipped'> {
  const nowSec = () => (deps.now?.() ?? Date.now()) / 1000;
  const { tenant, export_id: exportId } = ref;
  const job = await deps.exportJobs.claim(tenant, exportId, nowSec());
  if (!job) {
    deps.logger.info('export not claimed: unknown, finished or running elsewhere', {
      tenant,
      exportId,
    });
    return 'skipped';
  }
  const counters: FileStreamCounters = { packets: 0, bytes: 0 };
  // A PCAP export counts packets as it writes them; a window is copied inside S3 (no counts).
  const progress = isWindowJob(job.request)
    ? undefined
    : setInterval(() => {
        deps.exportJobs
          .progress(tenant, exportId, counters.packets, counters.bytes)
          .catch(() => undefined);
      }, PROGRESS_EVERY_MS);
  const started = performance.now();
  const build = async (): Promise<JobResult> => {
    const request = job.request;
    if (isWindowJob(request)) {
      const now = () => deps.now?.() ?? Date.now();
      return buildWindowJob({ ...deps, now }, tenant, exportId, request);
    }
    const plan = await planExport(deps.packets, tenant, request);
    options.signal?.throwIfAborted();
    const { packets, bytes, ...file } = await buildCaptureFile(deps, tenant, request, plan, {
      now: new Date(deps.now?.() ?? Date.now()),
      counters,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { packets, bytes, file };
  };
  try {
    const result = await build();
    clearInterval(progress);
    await deps.exportJobs.finish(tenant, exportId, result, nowSec());
    deps.logger.info('export done', {
      tenant,
      exportId,
      packets: result.packets,
      bytes: result.bytes,
      ms: Math.round(performance.now() - started),
    });
    return 'done';
  } catch (error) {
    clearInterval(progress);
    const failure = exportFailure(error, options.signal);
    const expected = ['no_packets', 'no_segments', 'window_too_large'].includes(failure.code);
    deps.logger[expected ? 'info' : 'warn']('export failed', {
      tenant,
      exportId,
      code: failure.code,
      error: (error as Error).message,
    });
    await deps.exportJobs.fail(tenant, exportId, failure, nowSec());
    return 'failed';
  }
}

/**
 * The job as a client should see it: one left `queued` or `running` for
 * longer than any worker lives has failed, whatever the record says (the
 * worker died before it could say so).
 */
export function exportJobView(job: ExportJob, nowSec: number): ExportJob {
  const since = job.status === 'running' ? job.startedAt : job.createdAt;
  const abandoned =
    (job.status === 'running' || job.status === 'queued') &&
    since !== null &&
    nowSec - since > EXPORT_STALE_AFTER_SEC;
  if (!abandoned) return job;
  return {
    ...job,
    status: 'failed',
    error: {
      code: job.status === 'queued' ? 'export_not_started' : 'export_interrupted',
      message: 'the export stopped without finishing; start it again',
    },
  };
}
