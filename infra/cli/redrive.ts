import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  createIngestDeps,
  type IngestDeps,
  ingestMessage,
  isRetryable,
} from '../../functions/ingest/index.js';
import { createLogger } from '../../functions/logger.js';
import { destroyStoreClients } from '../../functions/store/clients.js';
import { requireCredentials } from '../../functions/store/credentials.js';
import { decodeDlqMessage } from './dlq-message.js';
import { intOption, UsageError } from './options.js';
import {
  awsRegionAndClient,
  deployedStoreConfig,
  readStackOutputs,
  requireOutput,
  type StackOutputs,
} from './stack-outputs.js';

/** SQS's batch size for receive, delete and visibility changes. */
const BATCH = 10;
/** Long polling: ask every SQS server, wait this long for a message before calling the queue empty. */
const WAIT_SECONDS = 5;
/** Messages in hand stay hidden from others this long; ingesting a batch takes seconds. */
export const VISIBILITY_TIMEOUT_SECONDS = 300;
/** This many store failures in a row: the store is still down, stop instead of churning. */
const STORE_FAILURES_TO_STOP = 3;

export interface RedriveSummary {
  /** Distinct messages received. */
  received: number;
  /** Ingested now, then deleted. */
  redriven: number;
  /** Flow records written by the redriven messages (first copies only). */
  records: number;
  /** Already stored (or superseded by a newer heartbeat/metrics sample), then deleted. */
  duplicates: number;
  /** The store failed; kept for a later redrive. */
  failed: number;
  /** Ingest refuses them (unknown agent, invalid payload); kept for a person to look at. */
  rejected: number;
  /** Not a dead-letter message we know; kept. */
  unparseable: number;
  deleted: number;
  /** Every message left in the queue, with the reason. */
  kept: { messageId: string; reason: string }[];
  /** Why the run ended before the queue was empty, if it did. */
  stoppedEarly?: string;
}

export interface RedriveParams {
  sqs: SQSClient;
  queueUrl: string;
  /** Absent in a dry run: nothing is ingested or deleted. */
  ingest?: IngestDeps;
  max?: number;
  /** Diagnostics, one line each (kept messages, dry-run listing). */
  log: (line: string) => void;
}

type Handle = { Id: string; ReceiptHandle: string };

/**
 * Replays the ingest dead-letter queue through ingestMessage. A message is
 * deleted only once ingest says its content is stored (new or duplicate:
 * ingest is idempotent, so redelivery never doubles a record); messages that
 * fail or cannot be read stay, and are made visible again at the end.
 */
export async function redriveQueue(params: RedriveParams): Promise<RedriveSummary> {
  const { sqs, queueUrl, ingest, log } = params;
  const max = params.max ?? Number.POSITIVE_INFINITY;
  const summary: RedriveSummary = {
    received: 0,
    redriven: 0,
    records: 0,
    duplicates: 0,
    failed: 0,
    rejected: 0,
    unparseable: 0,
    deleted: 0,
    kept: [],
  };
  const seen = new Set<string>();
  const release: Handle[] = [];
  const keep = (message: Message, reason: string) => {
    summary.kept.push({ messageId: message.MessageId!, reason });
    release.push(handle(message));
    log(`kept ${message.MessageId}: ${reason}`);
  };
  let storeFailures = 0;

  try {
    while (summary.received < max && !summary.stoppedEarly) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(BATCH, max - summary.received),
          WaitTimeSeconds: WAIT_SECONDS,
          VisibilityTimeout: VISIBILITY_TIMEOUT_SECONDS,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
      );
      const fresh = (out.Messages ?? []).filter(
        (m) => m.MessageId && m.ReceiptHandle && !seen.has(m.MessageId),
      );
      // Empty, or only messages this run has already handled (it outlasted their visibility timeout).
      if (fresh.length === 0) break;
      const handled: Handle[] = [];
      for (const message of fresh) {
        if (summary.stoppedEarly) {
          // Received but not looked at: hand them back now, not after the visibility timeout.
          release.push(handle(message));
          continue;
        }
        seen.add(message.MessageId!);
        summary.received++;
        const decoded = decodeDlqMessage(message.Body ?? '');
        if (!decoded.ok) {
          summary.unparseable++;
          keep(message, `unparseable: ${decoded.reason}`);
          continue;
        }
        if (!ingest) {
          log(
            `would redrive ${message.MessageId}: ${decoded.topic}, ${decoded.payload.length} bytes, from the ${decoded.source} (${decoded.cause})`,
          );
          release.push(handle(message));
          continue;
        }
        try {
          const outcome = await ingestMessage(ingest, decoded.topic, decoded.payload);
          storeFailures = 0;
          if (outcome.status === 'rejected') {
            summary.rejected++;
            keep(message, `rejected by ingest: ${outcome.reason ?? 'invalid message'}`);
            continue;
          }
          if (outcome.status === 'stored') {
            summary.redriven++;
            summary.records += outcome.written ?? 0;
          } else {
            summary.duplicates++;
          }
          handled.push(handle(message));
        } catch (error) {
          summary.failed++;
          keep(message, `store failed: ${(error as Error).message}`);
          if (isRetryable(error) && ++storeFailures >= STORE_FAILURES_TO_STOP) {
            summary.stoppedEarly = `the store failed ${storeFailures} times in a row; run again once it is back`;
          }
        }
      }
      summary.deleted += await deleteHandled(sqs, queueUrl, handled, log);
    }
  } finally {
    await releaseKept(sqs, queueUrl, release, log);
  }
  return summary;
}

const handle = (message: Message): Handle => ({
  Id: message.MessageId!.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80),
  ReceiptHandle: message.ReceiptHandle!,
});

/** Deletes what was stored; a failed delete only means a harmless duplicate next time. */
async function deleteHandled(
  sqs: SQSClient,
  queueUrl: string,
  handled: Handle[],
  log: (line: string) => void,
): Promise<number> {
  if (handled.length === 0) return 0;
  const out = await sqs.send(
    new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: handled }),
  );
  for (const failure of out.Failed ?? []) {
    log(
      `stored but not deleted ${failure.Id}: ${failure.Code ?? ''} ${failure.Message ?? ''} (a later redrive counts it as a duplicate)`,
    );
  }
  return out.Successful?.length ?? 0;
}

/** Makes kept messages visible again at once, for the next redrive or a person to inspect. */
async function releaseKept(
  sqs: SQSClient,
  queueUrl: string,
  release: Handle[],
  log: (line: string) => void,
): Promise<void> {
  for (let i = 0; i < release.length; i += BATCH) {
    try {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: release.slice(i, i + BATCH).map((h) => ({ ...h, VisibilityTimeout: 0 })),
        }),
      );
    } catch (error) {
      log(
        `could not make kept messages visible again (${(error as Error).name}); they reappear after ${VISIBILITY_TIMEOUT_SECONDS} s`,
      );
    }
  }
}

export function summaryLine(s: RedriveSummary, dryRun: boolean): string {
  if (dryRun) {
    return `dry run: ${s.received} received, ${s.received - s.unparseable} would be redriven, ${s.unparseable} unparseable; nothing ingested or deleted`;
  }
  return [
    `redrive: ${s.received} received`,
    `${s.redriven} redriven (${s.records} flow records)`,
    `${s.duplicates} duplicates skipped`,
    `${s.failed} failed`,
    `${s.rejected} rejected`,
    `${s.unparseable} unparseable`,
  ]
    .join(', ')
    .concat(`; ${s.deleted} deleted, ${s.kept.length} left in the queue`)
    .concat(
      s.stoppedEarly
        ? `; stopped: ${s.stoppedEarly} (messages not yet looked at stay in the queue too)`
        : '',
    );
}

export interface RedriveValues {
  'queue-url'?: string | undefined;
  stack?: string | undefined;
  region?: string | undefined;
  max?: string | undefined;
  'dry-run'?: boolean | undefined;
}

export interface RedriveContext {
  env?: NodeJS.ProcessEnv;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  sqs?: SQSClient;
  cloudFormation?: CloudFormationClient;
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` → region. */
function regionOfQueueUrl(url: string): string | undefined {
  try {
    return /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * `wirefleet ingest redrive --queue-url URL | --stack NAME [--region R]
 * [--max N] [--dry-run]`. Exit status 0 when the queue is empty afterwards,
 * 1 when messages were left in it (each one reported), 2 for bad usage.
 */
export async function runIngestRedrive(
  values: RedriveValues,
  context: RedriveContext = {},
): Promise<number> {
  const env = context.env ?? process.env;
  const stdout = context.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = context.stderr ?? ((text: string) => process.stderr.write(text));
  if (Boolean(values['queue-url']) === Boolean(values.stack)) {
    throw new UsageError('give exactly one of --queue-url URL or --stack NAME');
  }
  const max = intOption('max', values.max, 1, 10_000_000);
  const dryRun = values['dry-run'] === true;
  let queueUrl = values['queue-url'];
  if (queueUrl !== undefined && !/^https?:\/\/[^/]+\/.+/.test(queueUrl)) {
    throw new UsageError(`--queue-url must be an SQS queue URL, got "${queueUrl}"`);
  }

  const explicitRegion =
    values.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    (queueUrl ? regionOfQueueUrl(queueUrl) : undefined);
  const { region, cloudFormation } = context.cloudFormation
    ? {
        region: await context.cloudFormation.config.region(),
        cloudFormation: context.cloudFormation,
      }
    : await awsRegionAndClient(explicitRegion);
  let outputs: StackOutputs = {};
  try {
    if (values.stack) {
      outputs = await readStackOutputs(cloudFormation, values.stack);
      queueUrl = requireOutput(outputs, 'IngestDlqUrl', values.stack);
      requireOutput(outputs, 'TenantsTableName', values.stack);
      requireOutput(outputs, 'FlowsTableName', values.stack);
    }
  } finally {
    if (!context.cloudFormation) cloudFormation.destroy();
  }
  if (!queueUrl) throw new UsageError('no queue URL');

  const sqs = context.sqs ?? new SQSClient({ region });
  const config = deployedStoreConfig(region, outputs, {}, env);
  const ingest = dryRun
    ? undefined
    : createIngestDeps(config, { logger: createLogger('ingest', 'error') });
  try {
    await requireCredentials(sqs, `SQS queue ${queueUrl}`);
    if (ingest && !config.dynamoCredentials) {
      await requireCredentials(ingest.clients.dynamo, `DynamoDB in ${region}`);
    }
    stderr(
      `${dryRun ? 'dry run of ' : ''}redriving ${queueUrl} into ${config.tenantsTable} / ${config.flowsTable} (${config.dynamoEndpoint ?? region})\n`,
    );
    const summary = await redriveQueue({
      sqs,
      queueUrl,
      ...(ingest ? { ingest } : {}),
      ...(max !== undefined ? { max } : {}),
      log: (line) => stderr(`${line}\n`),
    });
    stdout(`${summaryLine(summary, dryRun)}\n`);
    return summary.kept.length > 0 ? 1 : 0;
  } finally {
    if (ingest) destroyStoreClients(ingest.clients);
    if (!context.sqs) sqs.destroy();
  }
}
