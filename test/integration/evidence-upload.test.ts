import { randomBytes } from 'node:crypto';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignSegmentPut } from '../../functions/evidence/presign-upload.js';
import { AgentRepository } from '../../functions/store/agents.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { SegmentRepository, segmentObjectKey } from '../../functions/store/segments.js';
import { TenantRepository } from '../../functions/store/tenants.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import { EvidenceTestAgent, putSegment, segmentRequest } from '../helpers/evidence-agent.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The evidence upload contract end to end on the real local stack: aedes (with the agent
 * ACL), the ingest subscriber, dynalite and s3rver. An agent asks on `segments`, hears on
 * `uploads`, PUTs to s3rver through the presigned URL and confirms.
 */

let stack: TestStack;
let clients: StoreClients;
let segments: SegmentRepository;
let agent: EvidenceTestAgent;
let other: EvidenceTestAgent;
const AGENT = 'edge-ev-1';
const OTHER = 'edge-ev-acme';

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  const agents = new AgentRepository(clients, stack.config.tenantsTable);
  await new TenantRepository(clients, stack.config.tenantsTable).create('acme');
  const mine = await agents.register('default', AGENT);
  const theirs = await agents.register('acme', OTHER);
  segments = new SegmentRepository(clients, stack.config.flowsTable);
  agent = await EvidenceTestAgent.connect(stack.mqttUrl, AGENT, mine.password);
  other = await EvidenceTestAgent.connect(stack.mqttUrl, OTHER, theirs.password);
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await other?.close();
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

const objectExists = (key: string) =>
  clients.s3
    .send(new HeadObjectCommand({ Bucket: stack.config.pcapBucket, Key: key }))
    .then(() => true)
    .catch(() => false);

describe('evidence uploads over MQTT (aedes + ingest + dynalite + s3rver)', () => {
  it('answers upload_request with a short-lived PUT for the agent’s own key, bound to size and SHA-256', async () => {
    const seg = segmentRequest(randomBytes(200_000), { seq: 0 });
    const answer = await agent.send(seg.request);
    expect(answer.type).toBe('upload_url');
    if (answer.type !== 'upload_url') return;
    const url = new URL(answer.url);
    expect(decodeURIComponent(url.pathname)).toBe(
      `/${stack.config.pcapBucket}/${segmentObjectKey('default', AGENT, seg.request.segment_id)}`,
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual([
      'content-length',
      'host',
      'x-amz-checksum-sha256',
    ]);
    // The checksum travels as a signed header, never in the query string (S3 would answer 403).
    expect(url.searchParams.has('x-amz-checksum-sha256')).toBe(false);
    expect(answer.headers).toEqual({
      'content-length': String(seg.bytes.length),
      'x-amz-checksum-sha256': Buffer.from(seg.request.sha256, 'hex').toString('base64'),
    });
    const expiresIn = Date.parse(answer.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(300_000);

    // s3rver takes the declared bytes through the URL.
    expect((await putSegment(answer, seg.bytes)).status).toBe(200);
    const confirmed = await agent.send({
      type: 'upload_complete',
      segment_id: seg.request.segment_id,
    });
    expect(confirmed).toEqual({ type: 'upload_confirmed', segment_id: seg.request.segment_id });

    const record = await segments.getRecorded('default', seg.request.segment_id);
    expect(record).toMatchObject({
      agent_id: AGENT,
      seq: 0,
      bytes: seg.bytes.length,
      sha256: seg.request.sha256,
      cipher: 'AES-256-GCM',
      key_id: seg.request.key_id,
      started_at: seg.request.started_at,
      ended_at: seg.request.ended_at,
      packets: 10,
    });
    // Kept as long as the bucket keeps the object (30 days by default).
    const ttlDays = (record!.expires_at - Date.parse(record!.recorded_at) / 1000) / 86_400;
    expect(Math.round(ttlDays)).toBe(30);
    const listed = await segments.page('default', AGENT, { limit: 10 });
    expect(listed.segments.map((s) => s.segment_id)).toEqual([seg.request.segment_id]);

    // The window of this one segment is assembled in s3rver (UploadPartCopy, added by the
    // local stack) and is the uploaded object.
    const window = await stack.api(
      `/api/v1/segments/download?agent_id=${AGENT}&since=${seg.request.started_at}&until=${seg.request.ended_at}`,
    );
    expect(window.status).toBe(200);
    const assembled = (await window.json()) as { url: string };
    const object = Buffer.from(await (await fetch(assembled.url)).arrayBuffer());
    expect(object.equals(seg.bytes)).toBe(true);

    // A repeated request for a recorded segment is confirmed at once: no second upload.
    expect(await agent.send(seg.request)).toEqual({
      type: 'upload_confirmed',
      segment_id: seg.request.segment_id,
    });
    // ...but not when it now claims other bytes.
    const changed = await agent.send({ ...seg.request, sha256: 'f'.repeat(64) });
    expect(changed).toMatchObject({ type: 'upload_refused', code: 'segment_recorded_differently' });
  });

  it('refuses an object whose bytes are not the declared ones, and removes it', async () => {
    const seg = segmentRequest(randomBytes(50_000), { seq: 1 });
    const answer = await agent.send(seg.request);
    // s3rver neither checks signatures nor checksums: it stores other bytes of the same length
    // (AWS S3 answers this PUT 400 BadDigest). The cloud's own check on upload_complete catches it.
    const tampered = Buffer.from(seg.bytes);
    tampered[100] = tampered[100]! ^ 1;
    expect((await putSegment(answer, tampered)).status).toBe(200);
    const refused = await agent.send({
      type: 'upload_complete',
      segment_id: seg.request.segment_id,
    });
    expect(refused).toMatchObject({
      type: 'upload_refused',
      segment_id: seg.request.segment_id,
      code: 'checksum_mismatch',
      retry: true,
    });
    expect(await segments.getRecorded('default', seg.request.segment_id)).toBeUndefined();
    expect(await objectExists(segmentObjectKey('default', AGENT, seg.request.segment_id))).toBe(
      false,
    );

    // Asking again and uploading the right bytes records it.
    const again = await agent.send(seg.request);
    expect((await putSegment(again, seg.bytes)).status).toBe(200);
    expect(
      await agent.send({ type: 'upload_complete', segment_id: seg.request.segment_id }),
    ).toEqual({ type: 'upload_confirmed', segment_id: seg.request.segment_id });
  });

  it('is refused by s3rver once expired (s3rver checks X-Amz-Date + X-Amz-Expires, not the signature)', async () => {
    const bytes = randomBytes(1000);
    const seg = segmentRequest(bytes, { seq: 9 });
    const put = await presignSegmentPut(
      clients.s3,
      {
        bucket: stack.config.pcapBucket,
        key: segmentObjectKey('default', AGENT, seg.request.segment_id),
        bytes: bytes.length,
        sha256: seg.request.sha256,
      },
      // Signed 301 s ago for 300 s.
      { ttlSeconds: 300, nowMs: Date.now() - 301_000 },
    );
    const res = await fetch(put.url, { method: 'PUT', headers: put.headers, body: bytes });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Request has expired');
  });

  it('refuses a completion with no object, and one nobody asked for', async () => {
    const seg = segmentRequest(randomBytes(1000), { seq: 2 });
    await agent.send(seg.request);
    expect(
      await agent.send({ type: 'upload_complete', segment_id: seg.request.segment_id }),
    ).toMatchObject({ type: 'upload_refused', code: 'object_missing', retry: true });
    const unknown = randomBytes(16).toString('hex');
    expect(await agent.send({ type: 'upload_complete', segment_id: unknown })).toMatchObject({
      type: 'upload_refused',
      code: 'unknown_upload',
    });
  });

  it('takes the tenant from the registry: another tenant’s agent cannot complete or claim a segment', async () => {
    const seg = segmentRequest(randomBytes(1000), { seq: 3 });
    const answer = await agent.send(seg.request);
    await putSegment(answer, seg.bytes);
    // The acme agent names the default agent's segment: in its own tenant there is no such upload.
    expect(
      await other.send({ type: 'upload_complete', segment_id: seg.request.segment_id }),
    ).toMatchObject({ type: 'upload_refused', code: 'unknown_upload' });
    // Its own request for the same id lands under its own tenant and agent prefix.
    const theirs = await other.send(seg.request);
    expect(theirs.type).toBe('upload_url');
    if (theirs.type === 'upload_url') {
      expect(decodeURIComponent(new URL(theirs.url).pathname)).toContain(
        `/tenants/acme/agents/${OTHER}/segments/`,
      );
    }
    expect(await segments.get('default', seg.request.segment_id)).toMatchObject({
      agent_id: AGENT,
      status: 'pending',
    });
  });

  it('lets an agent subscribe only to its own uploads and never publish on uploads', async () => {
    const { password } = await new AgentRepository(clients, stack.config.tenantsTable).register(
      'default',
      'edge-ev-forger',
    );
    const connect = () =>
      mqtt.connectAsync(stack.mqttUrl, {
        clientId: 'edge-ev-forger',
        username: 'edge-ev-forger',
        password,
        reconnectPeriod: 0,
      });
    // Its own uploads: allowed.
    const forger = await connect();
    const own = await forger.subscribeAsync(agentTopic('edge-ev-forger', 'uploads'), { qos: 1 });
    expect(own[0]?.qos).toBe(1);
    // A forged answer on its own downlink: the broker refuses it and drops the connection.
    let closed = new Promise<void>((resolve) => forger.once('close', () => resolve()));
    forger
      .publishAsync(
        agentTopic('edge-ev-forger', 'uploads'),
        JSON.stringify({ type: 'upload_confirmed', segment_id: 'a'.repeat(32) }),
        { qos: 1 },
      )
      .catch(() => undefined);
    await closed;
    await forger.endAsync(true);
    // Another agent's uploads: refused, the connection dropped.
    const snoop = await connect();
    closed = new Promise<void>((resolve) => snoop.once('close', () => resolve()));
    const theirs = await snoop.subscribeAsync(agentTopic(OTHER, 'uploads'), { qos: 1 }).then(
      (granted) => granted[0]?.qos,
      (error: Error) => error.message,
    );
    expect(theirs === 128 || theirs === 'Connection closed').toBe(true);
    await snoop.endAsync(true);
  });
});
