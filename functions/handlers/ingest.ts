import { iotCommandPublisherFromEnv } from '../api/iot-command-publisher.js';
import {
  createIngestDeps,
  type IngestDeps,
  type IngestOutcome,
  ingestMessage,
} from '../ingest/index.js';
import { parseIoTRuleEvent } from '../ingest/iot-event.js';
import { storeConfigFromEnv } from '../store/config.js';

/**
 * Lambda entry point for the AWS IoT topic rule
 *   SELECT encode(*, 'base64') AS payload, topic() AS topic FROM 'wirefleet/v1/agents/+/+'
 * Bad messages resolve to a 'rejected' outcome (logged, not retried); an
 * unreachable store throws, so Lambda's asynchronous retries deliver it again.
 * Clients are created on first use, once per execution environment.
 */
let deps: IngestDeps | undefined;

export async function handler(event: unknown): Promise<IngestOutcome> {
  deps ??= ingestDepsFromEnv();
  const parsed = parseIoTRuleEvent(event);
  if (!parsed.ok) {
    deps.logger.warn('ingest rejected', { reason: parsed.reason });
    return { status: 'rejected', reason: parsed.reason };
  }
  return ingestMessage(deps, parsed.topic, parsed.payload);
}

/** Evidence uploads are answered through the IoT Data Plane when IOT_DATA_ENDPOINT is set. */
function ingestDepsFromEnv(): IngestDeps {
  const config = storeConfigFromEnv();
  const downlink = iotCommandPublisherFromEnv(process.env, { region: config.region });
  const ttl = Number(process.env.SEGMENT_UPLOAD_URL_TTL_SECONDS);
  return createIngestDeps(config, {
    ...(downlink ? { downlink } : {}),
    ...(config.segmentRetentionDays ? { segmentRetentionDays: config.segmentRetentionDays } : {}),
    ...(Number.isInteger(ttl) && ttl >= 60 && ttl <= 3600 ? { uploadUrlTtlSeconds: ttl } : {}),
  });
}
