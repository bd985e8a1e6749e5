import type { JobResult, WindowJobRequest } from '../store/export-jobs.js';
import {
  assembleSignedWindow,
  JOB_WINDOW_LIMITS,
  newWindowId,
  type WindowBuildDeps,
  windowManifestKey,
  windowObjectKey,
} from './window-download.js';

/**
 * Evidence windows too large for one API request run as jobs, on the same job records, runner
 * and worker as asynchronous PCAP exports (functions/pcap/export-job.ts). The job id carries
 * the window id, so the object, its manifest and the job name one window.
 */
export const WINDOW_JOB_ID_PATTERN = /^win_[0-9a-f]{32}$/;
export const newWindowJobId = () => `win_${newWindowId()}`;
const windowIdOf = (jobId: string) => jobId.slice('win_'.length);

/** Where a window job's object and manifest are (for presigning once it is done). */
export function windowJobObjects(tenant: string, jobId: string) {
  const windowId = windowIdOf(jobId);
  return {
    windowId,
    key: windowObjectKey(tenant, windowId),
    manifestKey: windowManifestKey(tenant, windowId),
  };
}

/** Assembles a window job's object within JOB_WINDOW_LIMITS; the result the job record keeps. */
export async function buildWindowJob(
  deps: WindowBuildDeps,
  tenant: string,
  jobId: string,
  request: WindowJobRequest,
): Promise<JobResult> {
  const window = await assembleSignedWindow(
    deps,
    tenant,
    { agentIds: request.agentIds, since: request.since, until: request.until },
    { windowId: windowIdOf(jobId), limits: JOB_WINDOW_LIMITS },
  );
  const filename = `window-${window.windowId}.wfe`;
  return {
    packets: window.packets,
    bytes: window.bytes,
    window: {
      segments: window.segments,
      missing_seqs: Object.values(window.signed.manifest.missing_seqs).reduce(
        (sum, seqs) => sum + seqs.length,
        0,
      ),
    },
    file: {
      key: window.key,
      filename,
      contentType: 'application/octet-stream',
      disposition: `attachment; filename="${filename}"`,
    },
  };
}
