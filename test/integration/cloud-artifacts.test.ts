import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManifestSigner } from '../../functions/evidence/manifest-signer.js';
import { MIN_PART_BYTES } from '../../functions/evidence/window-assembly.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import type { StoreConfig } from '../../functions/store/config.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { ensureStoreResources } from '../../functions/store/schema.js';
import type { PendingUpload } from '../../functions/store/segments.js';
import { loadSignedManifest } from '../../infra/cli/manifest-check.js';
import {
  type CfnTemplate,
  type FunctionArtifact,
  functionArtifact,
  localEnvironment,
  readFunctionArtifacts,
  readStackTemplate,
} from '../../infra/cloud/assembly.js';
import { LambdaInvokeError, LocalLambda } from '../../infra/cloud/local-lambda.js';
import { synthOffline } from '../../infra/cloud/offline-synth.js';
import {
  type RunningEmulator,
  S3RVER_CREDENTIALS,
  startDynalite,
  startS3rver,
} from '../../infra/local/emulators.js';
import { readPcap } from '../../protocol/pcap.js';
import { HASHED_ASSET } from '../../web/build.js';
import { segmentRequest } from '../helpers/evidence-agent.js';
import { apiGatewayV2Event, iotRuleEvent, lambdaContext } from '../helpers/lambda-events.js';
import { flowRecord, heartbeat } from '../unit/ingest/fixtures.js';

/**
 * The deployable artifacts, not the source: `cdk synth` runs as the CLI would
 * (no AWS credentials, no Docker, no lookups), and the bundles it writes are
 * loaded in their own Node process (infra/cloud/lambda-host.mjs, one event
 * at a time) and invoked with real-shaped events against dynalite and
 * s3rver, with the environment the stack gives each function.
 */
const STACK = 'Wirefleet';
const FAKE_ATS_ENDPOINT = 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com';

type IngestOutcome = { status: string; written?: number; reason?: string };
interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

let outdir: string;
let s3Dir: string;
let template: CfnTemplate;
let api: FunctionArtifact;
let ingest: FunctionArtifact;
/** Present once functions/handlers/pcap-export.ts exists (the stack bundles it only then). */
let pcapExport: FunctionArtifact | undefined;
let dynalite: RunningEmulator;
let s3rver: RunningEmulator;
let clients: StoreClients;
let repos: Repositories;
let apiLambda: LocalLambda;
let ingestLambda: LocalLambda;
let exportLambda: LocalLambda | undefined;
let token: string;
const TENANT = 'artifact';
let flowsTable: string;
const PCAP_BUCKET = `wirefleet-artifact-${process.pid}`;

/** An HTTP API event carrying this suite's token unless told otherwise (null: no header). */
const httpEvent = (
  method: string,
  pathWithQuery: string,
  options: { token?: string | null; body?: string; headers?: Record<string, string> } = {},
) =>
  apiGatewayV2Event(method, pathWithQuery, {
    ...options,
    bearer: options.token === undefined ? token : options.token,
  });

const invokeApi = (event: APIGatewayProxyEventV2): Promise<HttpResult> =>
  apiLambda.invoke<HttpResult>(event, lambdaContext('wirefleet-api'));
const invokeIngest = (event: unknown): Promise<IngestOutcome> =>
  ingestLambda.invoke<IngestOutcome>(event, lambdaContext('wirefleet-ingest'));
const json = (result: HttpResult) => JSON.parse(result.body) as Record<string, any>;

beforeAll(async () => {
  outdir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-cdk-'));
  s3Dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-s3-'));
  await synthOffline(outdir);
  template = readStackTemplate(outdir, STACK);
  const artifacts = readFunctionArtifacts(outdir, STACK);
  api = functionArtifact(artifacts, `${STACK}/Api/`);
  ingest = functionArtifact(artifacts, `${STACK}/Ingest/`);
  pcapExport = artifacts.some((a) => a.constructPath.startsWith(`${STACK}/PcapExport/`))
    ? functionArtifact(artifacts, `${STACK}/PcapExport/`)
    : undefined;

  dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
  s3rver = await startS3rver({ directory: s3Dir, host: '127.0.0.1', port: 0 });
  // Each function gets the environment the stack gives it, pointed at the
  // emulators, and nothing else from this process (as in Lambda).
  const functionEnv = (fn: FunctionArtifact): Record<string, string> => ({
    ...localEnvironment(template, fn, {
      bucketName: PCAP_BUCKET,
      iotDataEndpoint: FAKE_ATS_ENDPOINT,
    }),
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    // s3rver accepts only its own key pair; dynalite accepts any.
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    DYNAMODB_ENDPOINT: dynalite.endpoint,
    S3_ENDPOINT: s3rver.endpoint,
    LOG_LEVEL: 'warn',
  });
  const apiEnv = functionEnv(api);
  flowsTable = apiEnv.FLOWS_TABLE!;
  const config: StoreConfig = {
    region: 'us-east-1',
    tenantsTable: apiEnv.TENANTS_TABLE!,
    packetsTable: apiEnv.PACKETS_TABLE!,
    flowsTable: apiEnv.FLOWS_TABLE!,
    pcapBucket: apiEnv.PCAP_BUCKET!,
    dynamoEndpoint: dynalite.endpoint,
    s3Endpoint: s3rver.endpoint,
    dynamoCredentials: S3RVER_CREDENTIALS,
    s3Credentials: S3RVER_CREDENTIALS,
  };
  clients = createStoreClients(config);
  await ensureStoreResources(clients, config);
  repos = createRepositories(clients, config);
  await repos.tenants.ensure(TENANT);
  token = await repos.tenants.issueToken(TENANT, 'artifact test');

  apiLambda = await LocalLambda.start(api.entryFile, apiEnv);
  ingestLambda = await LocalLambda.start(ingest.entryFile, functionEnv(ingest));
  if (pcapExport)
    exportLambda = await LocalLambda.start(pcapExport.entryFile, functionEnv(pcapExport));
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    for (const [name, lambda] of [
      ['api', apiLambda],
      ['ingest', ingestLambda],
      ['pcap-export', exportLambda],
    ] as const) {
      if (lambda?.logs.length) console.log(`${name} logs:\n${lambda.logs.slice(-20).join('\n')}`);
    }
  });
});

afterAll(async () => {
  await apiLambda?.stop();
  await ingestLambda?.stop();
  await exportLambda?.stop();
  if (clients) destroyStoreClients(clients);
  await dynalite?.close();
  await s3rver?.close();
  await rm(outdir, { recursive: true, force: true });
  await rm(s3Dir, { recursive: true, force: true });
});

describe('cdk synth, offline and without Docker', () => {
  it('bundles each function locally into one ESM file for nodejs22.x on arm64, SDK inside', async () => {
    for (const fn of [api, ingest, ...(pcapExport ? [pcapExport] : [])]) {
      expect(fn.runtime).toBe('nodejs22.x');
      expect(fn.architectures).toEqual(['arm64']);
      expect(fn.handler).toBe('index.handler');
      expect(path.basename(fn.entryFile)).toBe('index.mjs');
      const code = await readFile(fn.entryFile, 'utf8');
      // The AWS SDK is bundled: nothing is imported from the runtime's copy.
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(code).not.toMatch(/from\s*["']@smithy\//);
      expect(code.length).toBeGreaterThan(100_000);
    }
  });

  it('ships the Swagger UI files the API reads at run time beside its bundle', async () => {
    const css = await readFile(
      path.join(api.assetDir, 'node_modules', 'swagger-ui-dist', 'swagger-ui.css'),
      'utf8',
    );
    expect(css).toContain('.swagger-ui');
  });
});

describe('the synthesized web console asset (what BucketDeployment copies to S3)', () => {
  let consoleDir: string;
  let html: string;
  beforeAll(async () => {
    // Both console deployments name one zip; the asset manifest says where synth staged it.
    const keys = Object.values(template.Resources)
      .filter((r) => r.Type === 'Custom::CDKBucketDeployment')
      .flatMap((r) => r.Properties?.SourceObjectKeys as string[]);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(1);
    const manifest = JSON.parse(await readFile(path.join(outdir, `${STACK}.assets.json`), 'utf8'));
    const asset = manifest.files[keys[0]!.replace(/\.zip$/, '')];
    expect(asset.source.packaging).toBe('zip');
    consoleDir = path.join(outdir, asset.source.path);
    html = await readFile(path.join(consoleDir, 'index.html'), 'utf8');
  });

  it('holds index.html and the hashed files it names, and nothing else', async () => {
    const referenced = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.filter((f) => f.endsWith('.js'))).toHaveLength(1);
    expect(referenced.filter((f) => f.endsWith('.css'))).toHaveLength(1);
    const files = (await readdir(path.join(consoleDir, 'assets'))).map((f) => `assets/${f}`);
    expect(files.sort()).toEqual([...referenced].sort());
    for (const file of files) expect(path.basename(file)).toMatch(HASHED_ASSET);
    expect((await readdir(consoleDir)).sort()).toEqual(['assets', 'index.html']);
    const js = await readFile(
      path.join(consoleDir, referenced.find((f) => f.endsWith('.js'))!),
      'utf8',
    );
    // The console itself, calling the API on its own origin.
    expect(js.length).toBeGreaterThan(50_000);
    expect(js).toContain('/api/v1');
  });

  it('runs under the CloudFront CSP: no inline script or style, nothing from another origin', () => {
    expect(html).toMatch(/<script type="module" src="\/assets\/[^"]+\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });
});

describe('the synthesized API bundle (API Gateway v2 events) against dynalite and s3rver', () => {
  let packetId: string;

  it('GET /api/v1/health answers 200 without a token', async () => {
    const result = await invokeApi(httpEvent('GET', '/api/v1/health', { token: null }));
    expect(result.statusCode).toBe(200);
    expect(json(result).status).toBe('ok');
  });

  it('POST /api/v1/route stores a routing decision as a packet', async () => {
    const result = await invokeApi(
      httpEvent('POST', '/api/v1/route', {
        body: JSON.stringify({ query: 'Write a Python function to calculate factorial' }),
      }),
    );
    expect(result.statusCode).toBe(200);
    const body = json(result);
    expect(body.lisp_packet.packet_id).toMatch(/^[0-9a-f]{16}$/);
    packetId = body.lisp_packet.packet_id;
    // Read back through the repository code: the bundle wrote to the table the stack names.
    const stored = await repos.packets.get(TENANT, packetId);
    expect(stored?.record.packet_id).toBe(packetId);
  });

  it('GET /api/v1/packets/recent lists it', async () => {
    const result = await invokeApi(httpEvent('GET', '/api/v1/packets/recent?count=5'));
    expect(result.statusCode).toBe(200);
    const body = json(result);
    expect(body.packets.map((p: { packet_id: string }) => p.packet_id)).toContain(packetId);
  });

  it('answers 401 without a token and 400 on a body that is not JSON', async () => {
    const unauthorized = await invokeApi(
      httpEvent('GET', '/api/v1/packets/recent', { token: null }),
    );
    expect(unauthorized.statusCode).toBe(401);
    expect(json(unauthorized).error.code).toBe('missing_token');
    const bad = await invokeApi(httpEvent('POST', '/api/v1/route', { body: '{"query": ' }));
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error).toMatchObject({ code: 'invalid_json', message: expect.any(String) });
  });

  it('builds a PCAP into the bucket the stack names and hands out a link that serves it', async () => {
    const result = await invokeApi(
      httpEvent('GET', '/api/v1/packets/download/pcap?count=1', {
        headers: { accept: 'application/json' },
      }),
    );
    expect(result.statusCode).toBe(200);
    const body = json(result);
    expect(body.url.startsWith(`${s3rver.endpoint}/${PCAP_BUCKET}/tenants/${TENANT}/`)).toBe(true);
    const file = new Uint8Array(await (await fetch(body.url)).arrayBuffer());
    expect([...readPcap(file)]).toHaveLength(1);
  });

  it('serves the Swagger UI assets from the asset directory', async () => {
    const result = await invokeApi(
      httpEvent('GET', '/docs/assets/swagger-ui.css', { token: null }),
    );
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type'] ?? result.headers?.['Content-Type']).toMatch(
      /text\/css/,
    );
  });
});

describe('the synthesized PCAP export bundle (asynchronous job events)', () => {
  it('builds a queued job into the bucket and marks it done', async (ctx) => {
    if (!exportLambda) return ctx.skip();
    const { ExportJobRepository } = await import('../../functions/store/export-jobs.js');
    const jobs = new ExportJobRepository(clients, flowsTable);
    const exportId = `exp_${'0'.repeat(23)}1`;
    const nowSec = Math.floor(Date.now() / 1000);
    await jobs.create(TENANT, exportId, { count: 10, format: 'pcap', filter: {} }, nowSec);
    const outcome = await exportLambda.invoke<{ status: string }>(
      { tenant: TENANT, export_id: exportId },
      { ...lambdaContext('wirefleet-pcap-export'), remainingTimeMs: 900_000 },
    );
    expect(outcome.status).toBe('done');
    const job = await jobs.get(TENANT, exportId, nowSec);
    expect(job?.status).toBe('done');
    expect(job?.file?.key.startsWith(`tenants/${TENANT}/`)).toBe(true);
    const object = await clients.s3.send(
      new GetObjectCommand({ Bucket: PCAP_BUCKET, Key: job!.file!.key }),
    );
    const frames = [...readPcap(await object.Body!.transformToByteArray())];
    expect(frames.length).toBeGreaterThanOrEqual(1);
  });

  it('assembles a window job from recorded segments, signed with the key the API made (the one pinned)', async (ctx) => {
    if (!exportLambda) return ctx.skip();
    const { ExportJobRepository } = await import('../../functions/store/export-jobs.js');
    const jobs = new ExportJobRepository(clients, flowsTable);
    const agentId = 'edge-window-1';
    const nowMs = Date.now();
    // Three recorded segments (any bytes: the cloud never opens one), one over 5 MiB.
    const bodies = [randomBytes(MIN_PART_BYTES + 100), randomBytes(3000), randomBytes(2000)];
    for (const [seq, bytes] of bodies.entries()) {
      const { request } = segmentRequest(bytes, { seq });
      await repos.segments.putPending(TENANT, agentId, request, nowMs);
      const pending = (await repos.segments.get(TENANT, request.segment_id)) as PendingUpload;
      await clients.s3.send(
        new PutObjectCommand({ Bucket: PCAP_BUCKET, Key: pending.object_key, Body: bytes }),
      );
      await repos.segments.record(TENANT, pending, nowMs);
    }
    // The API creates the signing key before it starts a window job; the worker only reads it.
    const pinned = await new ManifestSigner(repos.manifestKey).publicKey();
    const jobId = `win_${'0'.repeat(31)}1`;
    const nowSec = Math.floor(nowMs / 1000);
    const window = { agentIds: [agentId], since: 1_700_000_000, until: 1_700_000_000 + 3 * 60 };
    await jobs.create(TENANT, jobId, { kind: 'window', ...window }, nowSec);
    const outcome = await exportLambda.invoke<{ status: string }>(
      { tenant: TENANT, export_id: jobId },
      { ...lambdaContext('wirefleet-pcap-export'), remainingTimeMs: 900_000 },
    );
    expect(outcome.status).toBe('done');
    const job = await jobs.get(TENANT, jobId, nowSec);
    expect(job).toMatchObject({
      status: 'done',
      packets: 30,
      window: { segments: 3, missing_seqs: 0 },
    });
    const read = async (key: string) =>
      Buffer.from(
        await (
          await clients.s3.send(new GetObjectCommand({ Bucket: PCAP_BUCKET, Key: key }))
        ).Body!.transformToByteArray(),
      );
    expect((await read(job!.file!.key)).equals(Buffer.concat(bodies))).toBe(true);
    // The manifest kept beside it, checked as `pcap decrypt --manifest --manifest-key` does.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-manifest-'));
    const manifestFile = path.join(dir, 'window.json');
    await writeFile(manifestFile, await read(job!.file!.key.replace(/\.wfe$/, '.manifest.json')));
    const signed = await loadSignedManifest(manifestFile, pinned.key_id);
    await rm(dir, { recursive: true });
    expect(signed.manifest.window_id).toBe(jobId.slice(4));
    expect(signed.manifest.segments.map((e) => e.bytes)).toEqual(bodies.map((b) => b.length));
  });

  it('rejects an event that is not {tenant, export_id}, without throwing', async (ctx) => {
    if (!exportLambda) return ctx.skip();
    const outcome = await exportLambda.invoke<{ status: string }>({ tenant: TENANT });
    expect(outcome.status).toBe('rejected');
  });
});

describe('the synthesized ingest bundle (IoT rule events) against dynalite', () => {
  const AGENT = 'edge-artifact-1';
  const event = (channel: string, message: unknown) => iotRuleEvent(AGENT, channel, message);

  beforeAll(async () => {
    await repos.agents.register(TENANT, AGENT);
  });

  it('stores a flows batch from a registered agent under its tenant', async () => {
    const records = [flowRecord(1), flowRecord(2), flowRecord(3)];
    const outcome = await invokeIngest(
      event('flows', {
        schema: 'wirefleet.flows/1',
        batch_id: 'artifact-b1',
        sent_at: 1_767_300_000,
        records,
      }),
    );
    expect(outcome).toMatchObject({ status: 'stored', written: 3 });
    expect(await repos.flows.count(TENANT, AGENT)).toBe(3);
    // Delivered again (IoT and Lambda retries may do that): nothing is written twice.
    const again = await invokeIngest(
      event('flows', {
        schema: 'wirefleet.flows/1',
        batch_id: 'artifact-b1',
        sent_at: 1_767_300_000,
        records,
      }),
    );
    expect(again.status).toBe('duplicate');
    expect(await repos.flows.count(TENANT, AGENT)).toBe(3);
  });

  it('rejects a payload that is not a flows batch, without throwing', async () => {
    const outcome = await invokeIngest(
      event('flows', { schema: 'wirefleet.flows/1', records: 'nope' }),
    );
    expect(outcome.status).toBe('rejected');
    const notAnEvent = await invokeIngest({ topic: 42 });
    expect(notAnEvent.status).toBe('rejected');
  });

  it('throws when the store is down, so Lambda retries and then dead-letters the event', async () => {
    await dynalite.close();
    await expect(invokeIngest(event('heartbeat', heartbeat(1_767_300_100)))).rejects.toThrow(
      LambdaInvokeError,
    );
  });
});
