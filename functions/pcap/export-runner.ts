import type { Logger } from '../logger.js';
import type { ExportJobRepository } from '../store/export-jobs.js';
import { type ExportRef, type ExportWorkerDeps, runExportJob } from './export-job.js';

/**
 * Where asynchronous exports run: in this process (the local stack), or in
 * the pcap-export Lambda (AWS). start() resolves once the job is handed over,
 * not when it is done; it rejects when the job could not be handed over.
 */
export interface ExportRunner {
  start(ref: ExportRef): Promise<void>;
}

/**
 * Above this many packets a download is an asynchronous export job. Measured
 * (bench/pcap.bench.ts): ~2 s locally for 10 000 packets even on a loaded
 * machine, far inside API Gateway's ~30 s, while 100 000 take 15-30 s.
 */
export const DEFAULT_ASYNC_EXPORT_THRESHOLD = 10_000;

/** What the API needs for asynchronous exports. */
export interface PcapExportService {
  jobs: ExportJobRepository;
  runner: ExportRunner;
  /** Exports of more packets than this (or any, with Prefer: respond-async) run as jobs. */
  asyncThreshold: number;
}

/** The runner no longer takes jobs (the process is stopping). */
export class ExportRunnerStoppedError extends Error {
  override readonly name = 'ExportRunnerStoppedError';
}

/**
 * Runs export jobs in this process, tracked, so a clean shutdown can let
 * them finish (drain) or interrupt them (the job is then marked failed
 * with export_interrupted, and its partial upload removed).
 */
export class InProcessExportRunner implements ExportRunner {
  private readonly running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private stopping = false;
  private readonly logger: Logger;

  constructor(private readonly deps: ExportWorkerDeps) {
    this.logger = deps.logger;
  }

  /** Jobs running now. */
  get inFlight(): number {
    return this.running.size;
  }

  async start(ref: ExportRef): Promise<void> {
    if (this.stopping) throw new ExportRunnerStoppedError('the server is stopping');
    const key = `${ref.tenant}/${ref.export_id}`;
    if (this.running.has(key)) return;
    const abort = new AbortController();
    const done = runExportJob(this.deps, ref, { signal: abort.signal })
      .then(
        () => undefined,
        (error: Error) => this.logger.error('export job crashed', { ...ref, error: error.message }),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, { done, abort });
  }

  /**
   * Stops taking jobs and waits up to `timeoutMs` for those running; the
   * rest are interrupted (and marked failed) and waited for.
   */
  async drain(timeoutMs = 10_000): Promise<{ finished: number; interrupted: number }> {
    this.stopping = true;
    const jobs = [...this.running.values()];
    if (jobs.length === 0) return { finished: 0, interrupted: 0 };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(jobs.map((job) => job.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const left = [...this.running.values()];
    for (const job of left) job.abort.abort();
    await Promise.all(left.map((job) => job.done));
    if (left.length > 0) {
      this.logger.warn('exports interrupted by shutdown', { interrupted: left.length });
    }
    return { finished: jobs.length - left.length, interrupted: left.length };
  }

  /** Interrupts every running job at once (drain with no wait). */
  stop(): Promise<{ finished: number; interrupted: number }> {
    return this.drain(0);
  }
}
