import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile } from '../../agent/evidence/key-file.js';
import type { MasterKey } from '../../agent/evidence/master-key.js';
import type { EvidenceEventType } from '../../agent/evidence/recorder.js';
import { encodeSegmentContext } from '../../agent/evidence/segment-context.js';
import { SegmentEncryptor } from '../../agent/evidence/segment-encryptor.js';
import { describeSegmentFile, SegmentSpool } from '../../agent/evidence/segment-spool.js';
import { SegmentUploader, uplinkSegmentTransport } from '../../agent/evidence/uploader.js';
import { silentAgentLogger } from '../../agent/log.js';
import { DiskSpool } from '../../agent/spool.js';
import { Uplink } from '../../agent/uplink.js';
import { presignSegmentPut } from '../../functions/evidence/presign-upload.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../../infra/local/emulators.js';
import {
  type SegmentDownlink,
  type SegmentUplink,
  segmentUplinkSchema,
} from '../../protocol/evidence/upload-messages.js';
import { eventually } from '../helpers/agent-process.js';

/**
 * The agent's uploader (real Uplink, real segment spool) against a real aedes broker and a real
 * s3rver, with the cloud's part played by a TEST-ONLY RESPONDER below: it presigns with the
 * cloud's own presignSegmentPut (the real S3 presigner) and scripts the refusals the uploader
 * must handle. The real cloud (functions/ingest) is covered end to end in agent-evidence.test.ts.
 */

const AGENT = 'ev-uploader';
const BUCKET = 'evidence-test';
const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-ev-uploader-'));
let broker: Aedes;
let server: net.Server;
let mqttUrl: string;
let s3: S3Client;
let s3Close: () => Promise<void>;
let key: MasterKey;
/** An address where nothing listens. */
let deadStore: string;

beforeAll(async () => {
  broker = await Aedes.createBroker();
  server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  mqttUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s3rver = await startS3rver({
    directory: path.join(work, 's3'),
    host: '127.0.0.1',
    port: 0,
  });
  s3Close = () => s3rver.close();
  s3 = new S3Client({
    endpoint: s3rver.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  key = createKeyFile(path.join(work, 'evidence.key'));
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  deadStore = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((r) => closed.close(() => r()));
});

afterAll(async () => {
  s3?.destroy();
  await s3Close?.();
  await new Promise<void>((r) => server?.close(() => r()));
  await new Promise<void>((r) => broker?.close(() => r()));
  rmSync(work, { recursive: true, force: true });
});

type Script = (
  request: SegmentUplink & { type: 'upload_request' },
  attempt: number,
) => 'normal' | 'refuse_retry' | 'refuse_for_good' | 'bad_url';

/** What to do on an upload_complete: answer it, or cut the agent off instead (an outage). */
type OnComplete = (seq: number, count: number) => 'confirm' | 'drop_agent';

/** TEST-ONLY: plays the cloud's side of the upload contract (not functions/ingest). */
async function startTestResponder(script: Script, onComplete: OnComplete = () => 'confirm') {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: 'test-responder' });
  const attempts = new Map<number, number>();
  const puts = new Map<string, number>();
  const completes = new Map<number, number>();
  const requests = new Map<string, { bytes: number; sha256: string; seq: number }>();
  await client.subscribeAsync(`wirefleet/v1/agents/${AGENT}/segments`, { qos: 1 });
  const answer = (message: SegmentDownlink) =>
    client.publishAsync(`wirefleet/v1/agents/${AGENT}/uploads`, JSON.stringify(message), {
      qos: 1,
    });
  const objectKey = (id: string) => `tenants/t/agents/${AGENT}/segments/${id}`;
  client.on('message', (_topic, payload) => {
    void (async () => {
      const message = segmentUplinkSchema.parse(JSON.parse(payload.toString()));
      const id = message.segment_id;
      if (message.type === 'upload_request') {
        const attempt = (attempts.get(message.seq) ?? 0) + 1;
        attempts.set(message.seq, attempt);
        requests.set(id, message);
        // As the cloud does: a segment it already holds is confirmed at once, never uploaded twice.
        const held = await s3
          .send(new HeadObjectCommand({ Bucket: BUCKET, Key: objectKey(id) }))
          .then((head) => head.ContentLength === message.bytes)
          .catch(() => false);
        if (held) {
          await answer({ type: 'upload_confirmed', segment_id: id });
          return;
        }
        const what = script(message, attempt);
        if (what === 'refuse_retry' || what === 'refuse_for_good') {
          await answer({
            type: 'upload_refused',
            segment_id: id,
            code: what === 'refuse_retry' ? 'store_unavailable' : 'key_not_accepted',
            message: 'scripted by the test responder',
            retry: what === 'refuse_retry',
          });
          return;
        }
        const put = await presignSegmentPut(
          s3,
          { bucket: BUCKET, key: objectKey(id), bytes: message.bytes, sha256: message.sha256 },
          { ttlSeconds: 300, nowMs: Date.now() },
        );
        // A URL nobody answers (the store unreachable mid-upload): the agent must ask again.
        const url = what === 'bad_url' ? put.url.replace(/^http:\/\/[^/]+/, deadStore) : put.url;
        what === 'bad_url' ? put.url.replace(/Signature=[0-9a-f]{4}/, 'Signature=0000') : put.url;
        await answer({
          type: 'upload_url',
          segment_id: id,
          method: 'PUT',
          url,
          headers: put.headers,
          expires_at: put.expiresAt.toISOString(),
        });
        return;
      }
      const declared = requests.get(id)!;
      const count = (completes.get(declared.seq) ?? 0) + 1;
      completes.set(declared.seq, count);
      if (onComplete(declared.seq, count) === 'drop_agent') {
        // The agent's connection dies after its PUT, before any confirmation reaches it.
        // aedes keeps its connected clients by id (not in its typings).
        (broker as unknown as { clients: Record<string, { close(): void }> }).clients[
          AGENT
        ]?.close();
        return;
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: objectKey(id) }));
      expect(head.ContentLength).toBe(declared.bytes);
      puts.set(id, (puts.get(id) ?? 0) + 1);
      await answer({ type: 'upload_confirmed', segment_id: id });
      // A repeated confirmation (a redelivered QoS 1 answer) must be harmless.
      await answer({ type: 'upload_confirmed', segment_id: id });
    })().catch((error: Error) => {
      console.error('test responder failed', error);
    });
  });
  return {
    attempts,
    puts,
    completes,
    objectKey,
    close: () => client.endAsync(),
  };
}

function sealed(
  seq: number,
  size: number,
): { meta: ReturnType<typeof describeSegmentFile>; parts: Buffer[] } {
  const enc = new SegmentEncryptor(key, {
    context: encodeSegmentContext({
      agent_id: AGENT,
      seq,
      started_at: 100 + seq,
      ended_at: 101 + seq,
      packets: 1,
    }),
  });
  const parts = [enc.header, ...enc.push(randomBytes(size)), ...enc.finish()];
  return { meta: describeSegmentFile(Buffer.concat(parts)), parts };
}

describe('SegmentUploader over real aedes and s3rver, cloud played by a TEST-ONLY responder', () => {
  it('retries what is refused for now or fails to PUT, sets aside what is refused for good, and deletes only on confirmation', async () => {
    const responder = await startTestResponder((request, attempt) => {
      if (request.seq === 0 && attempt === 1) return 'refuse_retry';
      if (request.seq === 1) return 'refuse_for_good';
      if (request.seq === 2 && attempt === 1) return 'bad_url';
      return 'normal';
    });
    const spool = await SegmentSpool.open({ dir: path.join(work, 'evidence'), maxBytes: 64 << 20 });
    const segments = [0, 1, 2, 3].map((seq) => sealed(spool.nextSeq(), 100_000 + seq * 70_000));
    for (const s of segments) await spool.add(s.meta, s.parts);
    const flowSpool = await DiskSpool.open({ dir: path.join(work, 'spool'), maxBytes: 1 << 20 });
    const uplink = new Uplink(flowSpool, {
      url: mqttUrl,
      agentId: AGENT,
      logger: silentAgentLogger,
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
    });
    const events: { type: EvidenceEventType; details?: Record<string, unknown> }[] = [];
    const uploader = new SegmentUploader({
      spool,
      transport: uplinkSegmentTransport(uplink),
      retryMinMs: 20,
      retryMaxMs: 100,
      answerTimeoutMs: 5000,
      onEvent: (type, _s, _m, details) => events.push({ type, ...(details ? { details } : {}) }),
    });
    try {
      uplink.start();
      uploader.start();
      await eventually(
        async () => (spool.list().length === 0 ? true : undefined),
        'the spool drained',
      );
      expect(responder.attempts.get(0)).toBe(2);
      expect(responder.attempts.get(1)).toBe(1);
      expect(responder.attempts.get(2)).toBe(2);
      expect(uploader.stats()).toMatchObject({ confirmed: 3, refused: 1, puts: 3 });
      expect(uploader.stats().failed_attempts).toBe(2);
      expect(uploader.stats().last_error).toMatch(/^PUT failed/);
      expect(spool.stats()).toMatchObject({
        uploaded_segments: 3,
        refused_segments: 1,
        depth_segments: 0,
      });
      expect(readdirSync(path.join(work, 'evidence', 'refused'))).toEqual([
        `${'1'.padStart(20, '0')}-${segments[1]!.meta.segment_id}.wfe`,
      ]);
      expect(events).toEqual([
        {
          type: 'segment_refused',
          details: expect.objectContaining({ seq: 1, code: 'key_not_accepted' }),
        },
      ]);
      for (const s of [segments[0]!, segments[2]!, segments[3]!]) {
        expect(responder.puts.get(s.meta.segment_id)).toBe(1);
        const object = await s3.send(
          new GetObjectCommand({ Bucket: BUCKET, Key: responder.objectKey(s.meta.segment_id) }),
        );
        const bytes = Buffer.from(await object.Body!.transformToByteArray());
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.meta.sha256);
      }
    } finally {
      await uploader.stop();
      await uplink.stop({ drainMs: 0 });
      await responder.close();
    }
  });

  it('an outage after the PUT and before the confirmation: asked again, confirmed at once, stored once', async () => {
    const responder = await startTestResponder(
      () => 'normal',
      (seq, count) => (seq === 1 && count === 1 ? 'drop_agent' : 'confirm'),
    );
    const spool = await SegmentSpool.open({
      dir: path.join(work, 'evidence-2'),
      maxBytes: 64 << 20,
    });
    const segments = [0, 1, 2].map((seq) => sealed(spool.nextSeq(), 150_000 + seq));
    for (const s of segments) await spool.add(s.meta, s.parts);
    const flowSpool = await DiskSpool.open({ dir: path.join(work, 'spool-2'), maxBytes: 1 << 20 });
    const uplink = new Uplink(flowSpool, {
      url: mqttUrl,
      agentId: AGENT,
      logger: silentAgentLogger,
      reconnectMinMs: 100,
      reconnectMaxMs: 300,
    });
    const uploader = new SegmentUploader({
      spool,
      transport: uplinkSegmentTransport(uplink),
      retryMinMs: 20,
      retryMaxMs: 100,
      answerTimeoutMs: 5000,
    });
    try {
      uplink.start();
      uploader.start();
      await eventually(
        async () => (spool.list().length === 0 ? true : undefined),
        'the spool drained',
      );
      expect(uplink.stats().reconnects).toBeGreaterThanOrEqual(1);
      // Segment 1 was PUT once and its completion lost with the connection; asked again, the
      // cloud already had it and confirmed without a second upload.
      expect(responder.completes.get(1)).toBe(1);
      expect(responder.attempts.get(1)).toBe(2);
      expect(uploader.stats()).toMatchObject({ confirmed: 3, puts: 3, refused: 0 });
      expect(uploader.stats().failed_attempts).toBeGreaterThanOrEqual(1);
      for (const s of segments) {
        const object = await s3.send(
          new GetObjectCommand({ Bucket: BUCKET, Key: responder.objectKey(s.meta.segment_id) }),
        );
        const bytes = Buffer.from(await object.Body!.transformToByteArray());
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.meta.sha256);
      }
    } finally {
      await uploader.stop();
      await uplink.stop({ drainMs: 0 });
      await responder.close();
    }
  });
});
