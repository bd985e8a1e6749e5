import type { Context } from 'aws-lambda';
import {
  createExportWorkerDeps,
  type ExportWorkerDeps,
  exportRefSchema,
  runExportJob,
} from '../pcap/export-job.js';
import { storeConfigFromEnv } from '../store/config.js';

/**
 * Lambda entry point for asynchronous PCAP exports. The API invokes it with
 * InvocationType 'Event' and `{tenant, export_id}`; the job record says what
 * to build. A second delivery of the same event finds the job taken and does
 * nothing. Clients are created on first use, once per execution environment.
 */
let deps: ExportWorkerDeps | undefined;

/** Stop this long before Lambda's own limit, so the job is marked failed, not left running. */
const TIME_MARGIN_MS = 10_000;

export async function handler(
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<{ status: string; export_id?: string; reason?: string }> {
  deps ??= createExportWorkerDeps(storeConfigFromEnv());
  const ref = exportRefSchema.safeParse(event);
  if (!ref.success) {
    // Retrying a malformed event cannot help: log it and return.
    deps.logger.warn('pcap export event rejected', { issues: ref.error.issues.length });
    return { status: 'rejected', reason: 'the event is not {tenant, export_id}' };
  }
  const remaining = context?.getRemainingTimeInMillis?.();
  const signal =
    remaining !== undefined
      ? AbortSignal.timeout(Math.max(remaining - TIME_MARGIN_MS, 1000))
      : undefined;
  const status = await runExportJob(deps, ref.data, signal ? { signal } : {});
  return { status, export_id: ref.data.export_id };
}
