import { describe, expect, it } from 'vitest';
import { decodeDlqMessage } from '../../../infra/cli/dlq-message.js';

const TOPIC = 'wirefleet/v1/agents/edge-1/flows';
const PAYLOAD = JSON.stringify({
  schema: 'wirefleet.flows/1',
  batch_id: 'edge-1-000042',
  sent_at: 1_790_000_000,
  records: [],
});
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** What the topic rule's SQS errorAction sends when it cannot invoke the ingest Lambda. */
const ruleErrorBody = (payload = b64(PAYLOAD), topic = TOPIC) =>
  JSON.stringify({
    ruleName: 'wirefleet_ingest',
    topic,
    cloudwatchTraceId: '7e146a2c-95b5-6caf-98b9-50e3969734c7',
    clientId: 'wirefleet-edge-1',
    base64OriginalPayload: payload,
    failures: [
      {
        failedAction: 'LambdaAction',
        failedResource: 'arn:aws:lambda:eu-west-1:123456789012:function:Wirefleet-Ingest',
        errorMessage:
          'Failed to invoke lambda function. Received Server error from Lambda. The error code is 429',
      },
    ],
  });

/** What Lambda's asynchronous on-failure destination sends after the retries. */
const onFailureBody = (requestPayload: unknown = { payload: b64(PAYLOAD), topic: TOPIC }) =>
  JSON.stringify({
    version: '1.0',
    timestamp: '2026-11-22T10:15:03.482Z',
    requestContext: {
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Wirefleet-Ingest:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: 'StoreUnavailableError',
      errorMessage: 'store flows failed: ProvisionedThroughputExceededException',
      trace: [
        'StoreUnavailableError: store flows failed',
        '    at storeCall (/var/task/index.mjs:1:2)',
      ],
    },
  });

describe('decodeDlqMessage', () => {
  it('reads the IoT rule errorAction shape: original payload bytes and topic', () => {
    const decoded = decodeDlqMessage(ruleErrorBody());
    expect(decoded).toMatchObject({ ok: true, source: 'iot-rule-error', topic: TOPIC });
    if (!decoded.ok) return;
    expect(decoded.payload.toString('utf8')).toBe(PAYLOAD);
    expect(decoded.cause).toBe(
      'rule wirefleet_ingest: LambdaAction failed: Failed to invoke lambda function. Received Server error from Lambda. The error code is 429',
    );
  });

  it('reads the Lambda on-failure destination shape: the ingest event it was given', () => {
    const decoded = decodeDlqMessage(onFailureBody());
    expect(decoded).toMatchObject({ ok: true, source: 'lambda-on-failure', topic: TOPIC });
    if (!decoded.ok) return;
    expect(decoded.payload.toString('utf8')).toBe(PAYLOAD);
    expect(decoded.cause).toBe(
      'RetriesExhausted after 3 attempts: StoreUnavailableError store flows failed: ProvisionedThroughputExceededException',
    );
  });

  it('keeps binary payloads byte for byte', () => {
    const bytes = Buffer.from([0, 255, 10, 13, 0x7b, 0x80]);
    const decoded = decodeDlqMessage(ruleErrorBody(bytes.toString('base64')));
    expect(decoded.ok && decoded.payload.equals(bytes)).toBe(true);
  });

  it('accepts a body the SQS action base64-encoded whole (useBase64)', () => {
    const decoded = decodeDlqMessage(b64(ruleErrorBody()));
    expect(decoded).toMatchObject({ ok: true, source: 'iot-rule-error', topic: TOPIC });
  });

  it.each([
    ['plain text', 'hello', /not JSON/],
    ['JSON of another kind', JSON.stringify({ Records: [{ eventSource: 'aws:s3' }] }), /neither/],
    ['a JSON array', '[1,2]', /neither/],
    ['a rule error whose payload is not base64', ruleErrorBody('not base64!'), /not base64/],
    [
      'an on-failure record whose request is not an ingest event',
      onFailureBody({ Records: [] }),
      /on-failure record: event has no string "topic"/,
    ],
    [
      'an on-failure record without the request (too large to include)',
      onFailureBody(null),
      /not an object/,
    ],
  ])('reports %s as unparseable, with the reason', (_, body, reason) => {
    const decoded = decodeDlqMessage(body);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });
});
