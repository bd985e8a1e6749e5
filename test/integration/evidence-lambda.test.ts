/**
 * The ingest Lambda handler answering evidence uploads in AWS's shape. The AWS IoT Data Plane
 * cannot run here (no emulator speaks it), so its client is replaced by aws-sdk-client-mock;
 * the store around it is real (dynalite and s3rver from the local stack).
 */
import { createHash, randomBytes } from 'node:crypto';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentRepository } from '../../functions/store/agents.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { SegmentRepository } from '../../functions/store/segments.js';
import { segmentDownlinkSchema } from '../../protocol/evidence/upload-messages.js';
import { iotRuleEvent } from '../helpers/lambda-events.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { setProcessEnv } from '../helpers/process-env.js';

const HOST = 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com';
const AGENT = 'edge-lambda-ev';
const iot = mockClient(IoTDataPlaneClient);

let stack: TestStack;
let clients: StoreClients;
let restoreEnv = () => {};

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  await new AgentRepository(clients, stack.config.tenantsTable).register('default', AGENT);
  const env: Record<string, string | undefined> = {
    DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
    S3_ENDPOINT: stack.s3Endpoint,
    PCAP_BUCKET: stack.config.pcapBucket,
    PCAP_RETENTION_DAYS: '7',
    IOT_DATA_ENDPOINT: HOST,
    AWS_REGION: 'eu-west-1',
    LOG_LEVEL: 'error',
    // The emulators' own credentials, not whatever the shell has.
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
  };
  restoreEnv = setProcessEnv(env);
});
afterAll(async () => {
  restoreEnv();
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
  iot.restore();
});
afterEach(() => iot.reset());

const event = (message: object) => iotRuleEvent(AGENT, 'segments', message);

/** The downlink messages the handler published, decoded. */
const published = () =>
  iot.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    return {
      topic: input.topic,
      qos: input.qos,
      retain: input.retain,
      message: segmentDownlinkSchema.parse(
        JSON.parse(Buffer.from(input.payload as Uint8Array).toString('utf8')),
      ),
    };
  });

describe('ingest Lambda: evidence uploads answered through the IoT Data Plane (aws-sdk-client-mock: it cannot run here)', () => {
  it('publishes upload_url and then upload_confirmed on the agent’s uploads topic, QoS 1, not retained', async () => {
    const { handler } = await import('../../functions/handlers/ingest.js');
    const bytes = randomBytes(30_000);
    const request = {
      type: 'upload_request',
      segment_id: randomBytes(16).toString('hex'),
      seq: 0,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      cipher: 'ChaCha20-Poly1305',
      key_id: 'cd'.repeat(16),
      started_at: 1_700_000_000,
      ended_at: 1_700_000_030,
      packets: 12,
    };
    iot.on(PublishCommand).resolves({});
    expect(await handler(event(request))).toMatchObject({ status: 'stored', channel: 'segments' });
    const [answer] = published();
    expect(answer).toMatchObject({
      topic: `wirefleet/v1/agents/${AGENT}/uploads`,
      qos: 1,
      retain: false,
    });
    if (answer?.message.type !== 'upload_url') throw new Error('expected upload_url');
    const put = await fetch(answer.message.url, {
      method: 'PUT',
      headers: answer.message.headers,
      body: bytes,
    });
    expect(put.status).toBe(200);

    // The answer cannot go out: the handler throws, so Lambda retries the event...
    iot.reset();
    iot
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const complete = { type: 'upload_complete', segment_id: request.segment_id };
    await expect(handler(event(complete))).rejects.toThrow(/could not publish upload_confirmed/);
    // ...and the retry is answered the same way, the segment recorded once.
    iot.reset();
    iot.on(PublishCommand).resolves({});
    expect(await handler(event(complete))).toMatchObject({ status: 'duplicate' });
    expect(published().map((p) => p.message)).toEqual([
      { type: 'upload_confirmed', segment_id: request.segment_id },
    ]);
    const record = await new SegmentRepository(clients, stack.config.flowsTable).getRecorded(
      'default',
      request.segment_id,
    );
    expect(record).toMatchObject({ agent_id: AGENT, cipher: 'ChaCha20-Poly1305', packets: 12 });
    // PCAP_RETENTION_DAYS=7: the record lives as long as the bucket keeps the object.
    expect(Math.round((record!.expires_at - Date.parse(record!.recorded_at) / 1000) / 86_400)).toBe(
      7,
    );
  });
});
