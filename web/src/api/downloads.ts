import { type ApiClient, ApiRequestError, type ApiResponse, type QueryParams } from './client.js';
import type { DownloadLink, ExportJob, JobState } from './types.js';

/** Above this many packets the console asks for an export job (202) rather than waiting. */
export const ASYNC_EXPORT_ABOVE = 10_000;
export const MAX_DOWNLOAD_PACKETS = 100_000;

export interface ExportProgress {
  status: ExportJob['status'];
  packets?: number;
}

/** `https://host/api/v1/packets/exports/x` → `/packets/exports/x` (what ApiClient takes). */
export function apiPathOf(statusUrl: string, base = '/api/v1'): string {
  const { pathname } = new URL(statusUrl, 'http://console.invalid');
  if (!pathname.startsWith(`${base}/`)) throw new Error(`not an API URL: ${statusUrl}`);
  return pathname.slice(base.length);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });

function retryAfterMs(headers: Headers): number {
  const seconds = Number(headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) * 1000 : 2000;
}

/**
 * Follows a job the API accepted (a 202 with status_url): polls its status, as often as
 * Retry-After says, until it is done (returned) or failed (thrown as the job's error).
 */
export async function awaitJob<J extends JobState>(
  api: ApiClient,
  accepted: ApiResponse<J>,
  options: { signal?: AbortSignal; onProgress?(job: J): void } = {},
): Promise<J> {
  let job = accepted.data;
  if (!job.status_url) {
    throw new ApiRequestError(202, 'invalid_response', 'the job has no status_url');
  }
  const statusPath = apiPathOf(job.status_url);
  let wait = retryAfterMs(accepted.headers);
  for (;;) {
    options.onProgress?.(job);
    await sleep(wait, options.signal);
    const next = await api.get<J>(statusPath, undefined, {
      headers: { Accept: 'application/json' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    job = next.data;
    wait = retryAfterMs(next.headers);
    if (job.status === 'done') return job;
    if (job.status === 'failed') {
      throw new ApiRequestError(
        200,
        job.error?.code ?? 'export_failed',
        job.error?.message ?? 'the job failed',
      );
    }
  }
}

/**
 * Asks the API for a capture file and returns its presigned link. A small one
 * comes back at once (JSON instead of the 302); a large one is an export job
 * (202 + status_url), polled until it is done or failed.
 */
export async function requestCaptureLink(
  api: ApiClient,
  path: string,
  query: QueryParams,
  options: {
    preferAsync?: boolean;
    signal?: AbortSignal;
    onProgress?(p: ExportProgress): void;
  } = {},
): Promise<DownloadLink> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.preferAsync) headers.Prefer = 'respond-async';
  const first = await api.get<DownloadLink | ExportJob>(path, query, {
    headers,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (first.status !== 202) return first.data as DownloadLink;
  const job = await awaitJob(api, first as ApiResponse<ExportJob>, {
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (state) =>
      options.onProgress?.({
        status: state.status,
        ...(state.packets !== undefined ? { packets: state.packets } : {}),
      }),
  });
  if (!job.url || !job.filename) {
    throw new ApiRequestError(200, 'invalid_response', 'the finished export has no download link');
  }
  return {
    url: job.url,
    filename: job.filename,
    expires_at: job.expires_at ?? '',
    packets: job.packets ?? 0,
    bytes: job.bytes ?? 0,
    ...(job.content_type ? { content_type: job.content_type } : {}),
  } as DownloadLink;
}
