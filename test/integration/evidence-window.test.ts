import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile } from '../../agent/evidence/key-file.js';
import { SegmentEncryptor } from '../../agent/evidence/segment-encryptor.js';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { assembleWindow, MIN_PART_BYTES } from '../../functions/evidence/window-assembly.js';
import { newWindowJobId } from '../../functions/evidence/window-job.js';
import { silentLogger } from '../../functions/logger.js';
import { createExportWorkerDeps } from '../../functions/pcap/export-job.js';
import { InProcessExportRunner } from '../../functions/pcap/export-runner.js';
import { AgentRepository } from '../../functions/store/agents.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { ExportJobRepository } from '../../functions/store/export-jobs.js';
import { TenantRepository } from '../../functions/store/tenants.js';
import type { CipherSuite } from '../../protocol/evidence/format.js';
import { writePcap } from '../helpers/capture-gen.js';
import { manyFlowsScenario } from '../helpers/capture-scenarios.js';
import { EvidenceTestAgent, putSegment, segmentRequest } from '../helpers/evidence-agent.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { type MotoS3, motoAvailable, startMotoS3 } from '../helpers/moto.js';
import { tshark } from '../helpers/tshark.js';

/**
 * Window downloads on the real local stack: three encrypted segments (one per cipher, one of
 * them over 5 MiB, two far under it) go up through the MQTT contract, the API assembles the
 * window in S3 without reading them, and `wirefleet pcap decrypt --manifest` turns the one
 * download into one pcap that tshark reads. Run against both S3 stores: s3rver (with the
 * UploadPartCopy and EntityTooSmall that infra/local/s3rver-part-copy.ts adds) and, where it is
 * installed, moto, an independent S3 implementation with both built in.
 */

const CLI = path.resolve('bin/wirefleet.js');
const AGENT = 'edge-win-1';
const T0 = 1_700_000_000;
let moto: MotoS3 | undefined;
let stack: TestStack;
let clients: StoreClients;
let agent: EvidenceTestAgent;
let dir: string;
let keyFile: string;
let acmeToken: string;
const frames = manyFlowsScenario(40_000).frames;
const parts = [frames.slice(0, 70_000), frames.slice(70_000, 75_000), frames.slice(75_000)];
const ciphers: CipherSuite[] = ['AES-256-GCM', 'AES-128-GCM', 'ChaCha20-Poly1305'];
const sealed: Buffer[] = [];
const segmentIds: string[] = [];

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, NODE_OPTIONS: '' } },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr });
      },
    );
  });
}

/**
 * Writes a window and its manifest (any JSON with `manifest` and `signature`) to fresh files and
 * runs `wirefleet pcap decrypt --manifest` on them; `out` is where the pcap goes.
 */
async function decryptWindow(windowBytes: Buffer, manifest: unknown, extra: string[] = []) {
  const name = randomBytes(4).toString('hex');
  const windowFile = path.join(dir, `window-${name}.wfe`);
  const manifestFile = path.join(dir, `window-${name}.json`);
  const out = path.join(dir, `window-${name}.pcap`);
  writeFileSync(windowFile, windowBytes);
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const run = await cli([
    'pcap',
    'decrypt',
    '--key-file',
    keyFile,
    '--manifest',
    manifestFile,
    ...extra,
    windowFile,
    '-o',
    out,
  ]);
  return { ...run, out };
}

const MOTO = motoAvailable();
if (!MOTO) {
  console.warn(
    'evidence-window: the moto runs are skipped, moto is not installed (it comes from PyPI: pip install "moto[server]"); the s3rver runs go ahead',
  );
}
const STORES = MOTO ? ['s3rver', 'moto'] : ['s3rver'];

async function setUp(store: string): Promise<void> {
  sealed.length = 0;
  segmentIds.length = 0;
  if (store === 'moto') moto = await startMotoS3();
  stack = await startTestStack(store === 'moto' ? { s3Endpoint: moto!.endpoint } : {});
  clients = createStoreClients(stack.config);
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-window-'));
  keyFile = path.join(dir, 'master.key');
  const master = createKeyFile(keyFile);
  const agents = new AgentRepository(clients, stack.config.tenantsTable);
  const tenants = new TenantRepository(clients, stack.config.tenantsTable);
  await tenants.create('acme');
  acmeToken = await tenants.issueToken('acme');
  const { password } = await agents.register('default', AGENT);
  agent = await EvidenceTestAgent.connect(stack.mqttUrl, AGENT, password);
  for (const [seq, part] of parts.entries()) {
    const encryptor = new SegmentEncryptor(master, { cipher: ciphers[seq]! });
    const bytes = Buffer.concat([
      encryptor.header,
      ...encryptor.push(writePcap(part)),
      ...encryptor.finish(),
    ]);
    sealed.push(bytes);
    const seg = segmentRequest(bytes, {
      seq,
      cipher: ciphers[seq]!,
      segment_id: Buffer.from(encryptor.segmentId).toString('hex'),
      key_id: Buffer.from(master.id).toString('hex'),
      packets: part.length,
    });
    segmentIds.push(seg.request.segment_id);
    const answer = await agent.send(seg.request);
    expect((await putSegment(answer, bytes)).status).toBe(200);
    const done = await agent.send({ type: 'upload_complete', segment_id: seg.request.segment_id });
    expect(done.type).toBe('upload_confirmed');
  }
}

async function tearDown(): Promise<void> {
  await agent?.close();
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
  await moto?.stop();
  moto = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
}

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const windowPath = `/api/v1/segments/download?agent_id=${AGENT}&since=${T0}&until=${T0 + 3 * 60}`;

describe.each(STORES)('evidence windows on the local stack with %s as S3', (store) => {
  beforeAll(() => setUp(store), 120_000);
  afterAll(tearDown);

  describe('one link for a time window', () => {
    it('has one segment over 5 MiB and two far under it', () => {
      expect(sealed[0]!.length).toBeGreaterThan(MIN_PART_BYTES);
      expect(sealed[1]!.length).toBeLessThan(MIN_PART_BYTES / 5);
      expect(sealed[2]!.length).toBeLessThan(MIN_PART_BYTES / 5);
    });

    it('lists an agent’s segments oldest (or newest) first, filtered by time and paged with next_token', async () => {
      const first = await json(await stack.api(`/api/v1/agents/${AGENT}/segments?limit=2`));
      expect(first.segments.map((s: any) => s.seq)).toEqual([0, 1]);
      expect(first.segments[0]).toMatchObject({
        segment_id: segmentIds[0],
        agent_id: AGENT,
        bytes: sealed[0]!.length,
        cipher: 'AES-256-GCM',
        packets: parts[0]!.length,
      });
      expect(typeof first.next_token).toBe('string');
      const second = await json(
        await stack.api(`/api/v1/agents/${AGENT}/segments?limit=2&next_token=${first.next_token}`),
      );
      expect(second.segments.map((s: any) => s.seq)).toEqual([2]);
      expect(second.next_token).toBeNull();
      // since meets the segment's end, until its start: seq 1 spans T0+60..T0+119.
      const window = await json(
        await stack.api(`/api/v1/agents/${AGENT}/segments?since=${T0 + 100}&until=${T0 + 110}`),
      );
      expect(window.segments.map((s: any) => s.seq)).toEqual([1]);
      // A token is bound to its query.
      const other = await stack.api(
        `/api/v1/agents/${AGENT}/segments?limit=2&since=1&next_token=${first.next_token}`,
      );
      expect(other.status).toBe(400);
      // Newest first, paged the same way; a token from the other order is refused.
      const latest = await json(
        await stack.api(`/api/v1/agents/${AGENT}/segments?limit=2&order=desc`),
      );
      expect(latest.segments.map((x: any) => x.seq)).toEqual([2, 1]);
      const rest = await json(
        await stack.api(
          `/api/v1/agents/${AGENT}/segments?limit=2&order=desc&next_token=${latest.next_token}`,
        ),
      );
      expect(rest.segments.map((x: any) => x.seq)).toEqual([0]);
      const crossed = await stack.api(
        `/api/v1/agents/${AGENT}/segments?limit=2&next_token=${latest.next_token}`,
      );
      expect(crossed.status).toBe(400);
      const bad = await stack.api(`/api/v1/agents/${AGENT}/segments?order=newest`);
      expect(bad.status).toBe(400);
    });

    it('redirects a segment download to a presigned GET of the encrypted object', async () => {
      const res = await stack.api(`/api/v1/segments/${segmentIds[1]}/download`);
      expect(res.status).toBe(302);
      const object = Buffer.from(await (await fetch(res.headers.get('location')!)).arrayBuffer());
      expect(object.equals(sealed[1]!)).toBe(true);
      expect((await stack.api('/api/v1/segments/not-an-id/download')).status).toBe(400);
      expect((await stack.api(`/api/v1/segments/${'0'.repeat(32)}/download`)).status).toBe(404);
    });

    it('assembles the window in S3 into one object of the segments back to back, and decrypt turns it into one pcap', async () => {
      const res = await stack.api(windowPath);
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.segments).toBe(3);
      expect(body.manifest.segments.map((e: any) => [e.seq, e.segment_id, e.cipher])).toEqual(
        segmentIds.map((id, i) => [i, id, ciphers[i]]),
      );
      const object = Buffer.from(await (await fetch(body.url)).arrayBuffer());
      expect(object.equals(Buffer.concat(sealed))).toBe(true);
      expect(body.bytes).toBe(object.length);
      // The same signed manifest is kept beside the object.
      const kept = await (await fetch(body.manifest_url)).json();
      expect(kept).toEqual({ manifest: body.manifest, signature: body.signature });

      const keyId = (await json(await stack.api('/api/v1/evidence/manifest-key'))).key_id;
      const run = await decryptWindow(object, body, ['--manifest-key', keyId]);
      expect(run.stderr).toMatch(/3 segments .* matches its manifest \(signed by key [0-9a-f]{32}/);
      expect(run.code).toBe(0);
      expect(readFileSync(run.out).equals(Buffer.from(writePcap(frames)))).toBe(true);
      const decoded = await tshark(run.out, ['-T', 'fields', '-e', 'frame.number']);
      expect(decoded.split('\n').filter(Boolean)).toHaveLength(frames.length);
    }, 60_000);

    it('refuses, with nothing written, a window whose segments were swapped, a changed manifest and another key', async () => {
      const body = await json(await stack.api(windowPath));
      const decrypt = async (windowBytes: Buffer, extra: string[] = [], manifest = body) => {
        const run = await decryptWindow(windowBytes, manifest, extra);
        expect(() => readFileSync(run.out)).toThrow();
        return run;
      };
      // Each segment still verifies on its own: only the manifest catches the swap and the drop.
      const swapped = await decrypt(Buffer.concat([sealed[0]!, sealed[2]!, sealed[1]!]));
      expect(swapped.code).toBe(2);
      expect(swapped.stderr).toMatch(/segment 2 .* does not match the manifest/);
      const dropped = await decrypt(Buffer.concat([sealed[0]!, sealed[1]!]));
      expect(dropped.code).toBe(2);
      expect(dropped.stderr).toMatch(/the manifest \d+/);

      const edited = structuredClone(body);
      edited.manifest.segments.pop();
      edited.manifest.bytes -= sealed[2]!.length;
      const forged = await decrypt(Buffer.concat([sealed[0]!, sealed[1]!]), [], edited);
      expect(forged.code).toBe(2);
      expect(forged.stderr).toMatch(/signature does not verify/);

      const pinned = await decrypt(Buffer.concat(sealed), ['--manifest-key', 'ab'.repeat(16)]);
      expect(pinned.code).toBe(2);
      expect(pinned.stderr).toMatch(/not the pinned/);
    }, 60_000);

    it('keeps other tenants out: they cannot list, download or window this agent’s segments', async () => {
      const as = { token: acmeToken };
      expect((await stack.api(`/api/v1/agents/${AGENT}/segments`, as)).status).toBe(404);
      expect((await stack.api(`/api/v1/segments/${segmentIds[0]}/download`, as)).status).toBe(404);
      const window = await stack.api(windowPath, as);
      expect(window.status).toBe(404);
      expect((await json(window)).error.code).toBe('agent_not_found');
    });

    it('documents the routes in /openapi.json', async () => {
      const doc = await json(await stack.api('/openapi.json', { token: null }));
      for (const route of [
        '/api/v1/agents/{id}/segments',
        '/api/v1/segments/{id}/download',
        '/api/v1/segments/download',
        '/api/v1/segments/windows/{id}',
        '/api/v1/evidence/custody',
        '/api/v1/evidence/manifest-key',
      ]) {
        expect(doc.paths[route]?.get, route).toBeDefined();
      }
      expect(Object.keys(doc.paths['/api/v1/segments/download'].get.responses)).toContain('202');
      expect(doc.components.schemas.WindowJob.properties.manifest_url).toBeDefined();
      expect(doc.components.schemas.WindowManifest.properties.segments).toBeDefined();
    });

    it('validates the window request', async () => {
      const bad = [
        `/api/v1/segments/download?since=${T0}&until=${T0 + 1}`,
        `/api/v1/segments/download?agent_id=${AGENT}&since=${T0 + 10}&until=${T0}`,
        `/api/v1/segments/download?agent_id=${AGENT}&since=${T0}`,
        `/api/v1/segments/download?agent_id=Bad_Id&since=${T0}&until=${T0 + 1}`,
      ];
      for (const url of bad) {
        const res = await stack.api(url);
        expect(res.status, url).toBe(400);
        expect((await json(res)).error.code, url).toBe('invalid_request');
      }
      const empty = await stack.api(
        `/api/v1/segments/download?agent_id=${AGENT}&since=${T0 + 10_000}&until=${T0 + 20_000}`,
      );
      expect(empty.status).toBe(404);
      expect((await json(empty)).error.code).toBe('no_segments');
    });
  });

  describe('windows as jobs (over the request limits, or asked for with Prefer: respond-async)', () => {
    /** Polls a window job's status (as JSON) until it is no longer queued or running. */
    const settle = async (statusUrl: string) => {
      for (;;) {
        const res = await fetch(statusUrl, {
          headers: { Authorization: `Bearer ${stack.token}`, Accept: 'application/json' },
        });
        expect(res.status).toBe(200);
        const body = await json(res);
        if (body.status !== 'queued' && body.status !== 'running') return body;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    it('answers 202 and a status URL; the job assembles the same window, signed, and the status redirects to it', async () => {
      const res = await stack.api(windowPath, { headers: { Prefer: 'respond-async' } });
      expect(res.status).toBe(202);
      expect(res.headers.get('preference-applied')).toBe('respond-async');
      const accepted = await json(res);
      expect(accepted.job_id).toMatch(/^win_[0-9a-f]{32}$/);
      expect(res.headers.get('location')).toBe(accepted.status_url);
      const done = await settle(accepted.status_url);
      expect(done.error).toBeUndefined();
      expect(done).toMatchObject({
        job_id: accepted.job_id,
        status: 'done',
        agent_ids: [AGENT],
        bytes: Buffer.concat(sealed).length,
        segments: 3,
        missing_seqs: 0,
        packets: frames.length,
      });
      const object = Buffer.from(await (await fetch(done.url)).arrayBuffer());
      expect(object.equals(Buffer.concat(sealed))).toBe(true);
      const signed = (await (await fetch(done.manifest_url)).json()) as Record<string, any>;
      expect(signed.manifest.window_id).toBe(accepted.job_id.slice(4));
      expect(signed.manifest.segments.map((e: any) => e.segment_id)).toEqual(segmentIds);

      // The kept manifest is what decrypt checks the window against.
      const run = await decryptWindow(object, signed);
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(run.out).equals(Buffer.from(writePcap(frames)))).toBe(true);

      // Without Accept: application/json, the status of a finished job is the download itself.
      const redirect = await stack.api(`/api/v1/segments/windows/${accepted.job_id}`);
      expect(redirect.status).toBe(302);
      const again = Buffer.from(
        await (await fetch(redirect.headers.get('location')!)).arrayBuffer(),
      );
      expect(again.equals(object)).toBe(true);
    }, 60_000);

    it('keeps a job to its tenant, and answers 404 for unknown ids, export ids and empty windows', async () => {
      const accepted = await json(
        await stack.api(windowPath, { headers: { Prefer: 'respond-async' } }),
      );
      await settle(accepted.status_url);
      const other = await stack.api(`/api/v1/segments/windows/${accepted.job_id}`, {
        token: acmeToken,
      });
      expect(other.status).toBe(404);
      expect((await json(other)).error.code).toBe('window_not_found');
      for (const id of [`win_${'0'.repeat(32)}`, `exp_${'0'.repeat(24)}`, 'nonsense']) {
        const res = await stack.api(`/api/v1/segments/windows/${id}`);
        expect(res.status, id).toBe(404);
      }
      // A window job is not an export either.
      expect((await stack.api(`/api/v1/packets/exports/${accepted.job_id}`)).status).toBe(404);
      const empty = await stack.api(
        `/api/v1/segments/download?agent_id=${AGENT}&since=${T0 + 10_000}&until=${T0 + 20_000}`,
        { headers: { Prefer: 'respond-async' } },
      );
      expect(empty.status).toBe(404);
      expect((await json(empty)).error.code).toBe('no_segments');
    }, 60_000);

    it('records why a job failed: one that finds no segment (they expired after it was queued) says no_segments', async () => {
      const jobs = new ExportJobRepository(clients, stack.config.flowsTable);
      const jobId = newWindowJobId();
      const window = { agentIds: [AGENT], since: T0 + 10_000, until: T0 + 20_000 };
      await jobs.create('default', jobId, { kind: 'window', ...window }, Date.now() / 1000);
      const runner = new InProcessExportRunner(
        createExportWorkerDeps(stack.config, { clients, logger: silentLogger }),
      );
      await runner.start({ tenant: 'default', export_id: jobId });
      await runner.drain();
      const failed = await settle(`${stack.apiUrl}/api/v1/segments/windows/${jobId}`);
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'no_segments' } });
      expect(failed.url).toBeUndefined();
      // A failed job has nothing to redirect to.
      expect((await stack.api(`/api/v1/segments/windows/${jobId}`)).status).toBe(200);
    });

    it('turns a window over the request limits into a job, and answers 413 where no jobs can run', async () => {
      const withLimits = (runner: boolean) => {
        const deps = createAppDeps(stack.config, {
          clients,
          logger: silentLogger,
          windowRequestLimits: { segments: 2, bytes: 2 * 1024 ** 3 },
          ...(runner
            ? {
                exportRunner: new InProcessExportRunner(
                  createExportWorkerDeps(stack.config, { clients, logger: silentLogger }),
                ),
              }
            : {}),
        });
        const app = createApp(deps);
        return (url: string, headers: Record<string, string> = {}) =>
          app.request(`http://localhost${url}`, {
            headers: { Authorization: `Bearer ${stack.token}`, ...headers },
          });
      };
      const jobs = withLimits(true);
      const accepted = await jobs(windowPath);
      expect(accepted.status).toBe(202);
      const { status_url: statusUrl } = await json(accepted);
      const statusPath = new URL(statusUrl).pathname;
      let done: Record<string, any>;
      for (;;) {
        done = await json(await jobs(statusPath, { Accept: 'application/json' }));
        if (done.status !== 'queued' && done.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(done).toMatchObject({ status: 'done', segments: 3 });
      // Two segments fit the request limit: built at once.
      const small = await jobs(
        `/api/v1/segments/download?agent_id=${AGENT}&since=${T0}&until=${T0 + 90}`,
      );
      expect(small.status).toBe(200);
      expect((await json(small)).segments).toBe(2);

      const refused = await withLimits(false)(windowPath);
      expect(refused.status).toBe(413);
      expect((await json(refused)).error.code).toBe('window_too_large');
    }, 60_000);
  });

  describe('the custody log: who was handed which evidence', () => {
    it('records every link and job handed out, newest first, with the token id and the caller, per tenant', async () => {
      const tokenId = createHash('sha256').update(stack.token).digest('hex').slice(0, 16);
      const seen: Record<string, any>[] = [];
      let next: string | null = null;
      do {
        const page = await json(
          await stack.api(`/api/v1/evidence/custody?limit=7${next ? `&next_token=${next}` : ''}`),
        );
        seen.push(...page.entries);
        next = page.next_token;
      } while (next);
      // Newest first.
      const times = seen.map((e) => Date.parse(e.at));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      expect(new Set(seen.map((e) => e.entry_id)).size).toBe(seen.length);
      // Over HTTP the socket's address is kept (one test calls the app in-process: none there).
      const overHttp = seen.filter((e) => e.source_ip !== undefined);
      expect(new Set(overHttp.map((e) => e.action)).size).toBe(3);
      for (const entry of overHttp) expect(entry.source_ip).toMatch(/127\.0\.0\.1$/);
      for (const entry of seen) {
        expect(entry.token_id).toBe(tokenId);
        expect(entry.agent_ids).toEqual([AGENT]);
        expect(entry.request_id).toMatch(/^[0-9a-f-]{36}$/);
      }
      const actions = new Set(seen.map((e) => e.action));
      expect([...actions].sort()).toEqual(['segment_link', 'window_job', 'window_link']);
      // The segment link names the object it opened, by id and SHA-256.
      const segmentLink = seen.find((e) => e.action === 'segment_link')!;
      expect(segmentLink).toMatchObject({
        segment_id: segmentIds[1],
        sha256: createHash('sha256').update(sealed[1]!).digest('hex'),
        bytes: sealed[1]!.length,
      });
      expect(Date.parse(segmentLink.link_expires_at)).toBeGreaterThan(Date.parse(segmentLink.at));
      // A window link names its window and what it held; one from a job names the job too.
      const windowLinks = seen.filter((e) => e.action === 'window_link');
      expect(windowLinks.every((e) => /^[0-9a-f]{32}$/.test(e.window_id))).toBe(true);
      expect(windowLinks.some((e) => e.job_id?.startsWith('win_') && e.segments === 3)).toBe(true);
      expect(windowLinks.some((e) => e.job_id === undefined && e.segments === 3)).toBe(true);

      // Another tenant's log holds none of it; its refused requests handed nothing out.
      const other = await json(await stack.api('/api/v1/evidence/custody', { token: acmeToken }));
      expect(other.entries).toEqual([]);
      expect((await stack.api('/api/v1/evidence/custody?limit=0')).status).toBe(400);
    });
  });

  describe('assembleWindow: small segments before, between and after a large one', () => {
    it('joins [small, large, then five small] into their exact concatenation; a small non-final part is refused', async () => {
      const bucket = stack.config.pcapBucket;
      const sizes = [100_000, MIN_PART_BYTES + 1000, 50_000, 70_000, 30_000, 20_000, 10_000];
      const bodies = sizes.map((n) => randomBytes(n));
      for (const [i, body] of bodies.entries()) {
        await clients.s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: `tenants/t/assembly/src-${i}`, Body: body }),
        );
      }
      const result = await assembleWindow(
        bodies.map((b, i) => ({ key: `tenants/t/assembly/src-${i}`, bytes: b.length })),
        {
          s3: clients.s3,
          bucket,
          key: 'tenants/t/assembly/out',
          scratchPrefix: 'tenants/t/scratch/',
        },
      );
      // [small + large] joined behind the filler, then the five small ones joined (a tree of
      // pairwise merges, an odd one carried up) as the last part.
      expect(result.parts).toBe(2);
      // group 1: 2 appends + 1 merge; group 2: 5 appends + 4 merges; the window: 2 parts.
      expect(result.copies).toBe(2 * 2 + 1 * 2 + 5 * 2 + 4 * 2 + 2);
      const out = await clients.s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: 'tenants/t/assembly/out' }),
      );
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      expect(bytes.equals(Buffer.concat(bodies))).toBe(true);
      // No scratch object is left behind.
      const left = await clients.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tenants/t/scratch/' }),
      );
      expect(left.KeyCount ?? 0).toBe(0);

      // Why the filler: copying the small first segment as a part on its own is refused.
      await expect(
        assembleWindow(
          bodies.map((b, i) => ({ key: `tenants/t/assembly/src-${i}`, bytes: b.length })),
          {
            s3: clients.s3,
            bucket,
            key: 'tenants/t/assembly/naive',
            scratchPrefix: 'tenants/t/scratch2/',
            minPart: 1,
          },
        ),
      ).rejects.toMatchObject({ name: 'EntityTooSmall' });
    }, 60_000);
  });
});
