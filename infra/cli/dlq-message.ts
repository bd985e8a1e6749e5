import * as z from 'zod';
import { parseIoTRuleEvent } from '../../functions/ingest/iot-event.js';

/**
 * The two kinds of message the ingest dead-letter queue holds, both carrying
 * an MQTT message IoT Core had already acknowledged to an agent:
 * - `iot-rule-error`: the topic rule's SQS errorAction (the rule could not
 *   invoke the ingest Lambda). The original MQTT payload is in
 *   `base64OriginalPayload`, its topic in `topic`.
 * - `lambda-on-failure`: the ingest Lambda's asynchronous on-failure
 *   destination (retries exhausted, or the event too old). The Lambda's own
 *   event, `{payload: <base64>, topic}`, is in `requestPayload`.
 */
export type DlqSource = 'iot-rule-error' | 'lambda-on-failure';

export type DecodedDlqMessage =
  | {
      ok: true;
      source: DlqSource;
      topic: string;
      payload: Buffer;
      /** Why it landed in the queue, as the sender said (for the report). */
      cause: string;
    }
  | { ok: false; reason: string };

const iotRuleError = z.object({
  ruleName: z.string().optional(),
  topic: z.string(),
  base64OriginalPayload: z.string(),
  clientId: z.string().optional(),
  failures: z
    .array(
      z.object({
        failedAction: z.string().optional(),
        failedResource: z.string().optional(),
        errorMessage: z.string().optional(),
      }),
    )
    .optional(),
});

const lambdaOnFailure = z.object({
  requestContext: z.object({
    condition: z.string().optional(),
    approximateInvokeCount: z.number().optional(),
    functionArn: z.string().optional(),
  }),
  requestPayload: z.unknown(),
  responsePayload: z
    .object({ errorType: z.string().optional(), errorMessage: z.string().optional() })
    .nullish()
    .catch(null),
});

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/**
 * The body as JSON. An SQS rule action with `useBase64` sends the whole body
 * base64-encoded, so a body that is not JSON gets one chance as base64.
 */
function bodyJson(body: string): unknown {
  const trimmed = body.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    // Not JSON as it stands; perhaps base64 of JSON.
  }
  if (BASE64.test(trimmed)) {
    const decoded = Buffer.from(trimmed, 'base64').toString('utf8').trim();
    if (decoded.startsWith('{')) return JSON.parse(decoded);
  }
  throw new SyntaxError('not JSON');
}

const oneLine = (text: string, max = 200) => text.replace(/\s+/g, ' ').trim().slice(0, max);

/** Decodes one dead-letter body into the topic and payload bytes ingest takes. */
export function decodeDlqMessage(body: string): DecodedDlqMessage {
  let json: unknown;
  try {
    json = bodyJson(body);
  } catch {
    return { ok: false, reason: 'the body is not JSON (nor base64 JSON)' };
  }
  const asRuleError = iotRuleError.safeParse(json);
  if (asRuleError.success) {
    const m = asRuleError.data;
    const event = parseIoTRuleEvent({ topic: m.topic, payload: m.base64OriginalPayload });
    if (!event.ok) return { ok: false, reason: `IoT rule error message: ${event.reason}` };
    const failure = m.failures?.[0];
    return {
      ok: true,
      source: 'iot-rule-error',
      topic: event.topic,
      payload: event.payload,
      cause: oneLine(
        `rule ${m.ruleName ?? '?'}: ${failure?.failedAction ?? 'action'} failed${failure?.errorMessage ? `: ${failure.errorMessage}` : ''}`,
      ),
    };
  }
  const asOnFailure = lambdaOnFailure.safeParse(json);
  if (asOnFailure.success) {
    const m = asOnFailure.data;
    const event = parseIoTRuleEvent(m.requestPayload);
    if (!event.ok) return { ok: false, reason: `Lambda on-failure record: ${event.reason}` };
    const error = m.responsePayload;
    return {
      ok: true,
      source: 'lambda-on-failure',
      topic: event.topic,
      payload: event.payload,
      cause: oneLine(
        `${m.requestContext.condition ?? 'failed'} after ${m.requestContext.approximateInvokeCount ?? '?'} attempts${error?.errorType ? `: ${error.errorType}` : ''}${error?.errorMessage ? ` ${error.errorMessage}` : ''}`,
      ),
    };
  }
  return {
    ok: false,
    reason:
      'neither an IoT rule error message (base64OriginalPayload, topic) nor a Lambda on-failure record (requestPayload)',
  };
}
