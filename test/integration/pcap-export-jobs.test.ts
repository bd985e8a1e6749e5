import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { silentLogger } from '../../functions/logger.js';
import { createExportWorkerDeps } from '../../functions/pcap/export-job.js';
import { type ExportRunner, InProcessExportRunner } from '../../functions/pcap/export-runner.js';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { ExportJobRepository } from '../../functions/store/export-jobs.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { readPcap } from '../../protocol/pcap.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/** Asynchronous PCAP exports against the real local stack (dynalite, s3rver, the in-process runner). */

type Json = Record<string, any>;
let stack: TestStack;
let clients: ReturnType<typeof createStoreClients>;
let repos: Repositories;
let acmeToken: string;
const ROUTED = 8;

beforeAll(async () => {
  stack = await startTestStack({ urlTtlSeconds: 300 });
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  for (let i = 0; i < ROUTED; i++) {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query: i % 2 ? 'Write a Python function' : 'What is BGP?' },
    });
    expect(res.status).toBe(200);
  }
  await repos.tenants.create('acme-exports');
  acmeToken = await repos.tenants.issueToken('acme-exports');
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

/** Polls the status URL (as JSON) until the job is no longer queued or running. */
async function settle(statusUrl: string, token = stack.token): Promise<Json> {
  for (;;) {
    const res = await fetch(statusUrl, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    if (body.status !== 'queued' && body.status !== 'running') return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function fileRecords(url: string): Promise<number> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return [...readPcap(new Uint8Array(await res.arrayBuffer()))].length;
}

describe('asynchronous PCAP exports through the local stack', () => {
  it('answers Prefer: respond-async with 202, a Location, and a status URL that ends in the file', async () => {
    const res = await stack.api('/api/v1/packets/download/pcap?count=100', {
      headers: { Prefer: 'respond-async, wait=5' },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ status: 'queued' });
    expect(body.export_id).toMatch(/^exp_[0-9a-f]{24}$/);
    expect(body.status_url).toBe(`${stack.apiUrl}/api/v1/packets/exports/${body.export_id}`);
    expect(res.headers.get('location')).toBe(body.status_url);

    const done = await settle(body.status_url);
    expect(done).toMatchObject({ status: 'done', packets: ROUTED, format: 'pcap', count: 100 });
    expect(done.bytes).toBeGreaterThan(24 + ROUTED * 16);
    expect(done.filename).toMatch(/^lisp_packets_\d{8}_\d{6}\.pcap$/);
    expect(Date.parse(done.expires_at) - Date.now()).toBeLessThanOrEqual(300_000);
    expect(await fileRecords(done.url)).toBe(ROUTED);

    // Without Accept: application/json, a 302 to a fresh presigned URL (curl -L works).
    const redirect = await fetch(body.status_url, {
      headers: { Authorization: `Bearer ${stack.token}` },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(new URL(location).pathname).toMatch(/^\/wirefleet-pcaps\/tenants\/default\/pcaps\//);
    expect(await fileRecords(location)).toBe(ROUTED);
  });

  it('reports a job that matched nothing as failed with no_packets', async () => {
    const res = await stack.api('/api/v1/packets/download/pcap?model=no-such-model', {
      headers: { Prefer: 'respond-async' },
    });
    expect(res.status).toBe(202);
    const done = await settle(((await res.json()) as Json).status_url);
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({ code: 'no_packets', message: 'no packets match the selection' });
    expect(done.url).toBeUndefined();
  });

  it("answers 404 for an unknown id, a malformed one, and another tenant's export", async () => {
    const res = await stack.api('/api/v1/packets/download/pcap?count=3', {
      headers: { Prefer: 'respond-async' },
    });
    const { export_id, status_url } = (await res.json()) as Json;
    await settle(status_url);
    for (const [path, token] of [
      [`/api/v1/packets/exports/${export_id}`, acmeToken],
      ['/api/v1/packets/exports/exp_000000000000000000000000', stack.token],
      ['/api/v1/packets/exports/not-an-id', stack.token],
    ] as const) {
      const other = await stack.api(path, { token, headers: { Accept: 'application/json' } });
      expect(other.status).toBe(404);
      expect(((await other.json()) as Json).error.code).toBe('export_not_found');
    }
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await stack.api('/openapi.json', { token: null })).json()) as Json;
    const download = doc.paths['/api/v1/packets/download/pcap'].get;
    expect(Object.keys(download.responses)).toEqual(expect.arrayContaining(['200', '202', '302']));
    expect(download.parameters.map((p: Json) => p.name)).toContain('Prefer');
    const status = doc.paths['/api/v1/packets/exports/{id}'].get;
    expect(Object.keys(status.responses)).toEqual(expect.arrayContaining(['200', '302', '404']));
    expect(doc.components.schemas.ExportJob.properties.status.enum).toEqual([
      'queued',
      'running',
      'done',
      'failed',
    ]);
  });

  it('keeps small downloads synchronous: a 302 straight to the file', async () => {
    const res = await stack.api('/api/v1/packets/download/pcap?count=100');
    expect(res.status).toBe(302);
    expect(await fileRecords(res.headers.get('location')!)).toBe(ROUTED);
  });
});

describe('the threshold and the runner, through the app', () => {
  const appWith = (runner: ExportRunner, asyncExportThreshold: number) =>
    createApp(
      createAppDeps(stack.config, {
        clients,
        repositories: repos,
        logger: silentLogger,
        exportRunner: runner,
        asyncExportThreshold,
      }),
    );
  const get = (
    app: ReturnType<typeof createApp>,
    path: string,
    headers: Record<string, string> = {},
  ) =>
    app.request(`http://wirefleet.test/api/v1${path}`, {
      headers: { Authorization: `Bearer ${stack.token}`, ...headers },
    });

  it('turns a download into a job only when more packets match than the threshold', async () => {
    const runner = new InProcessExportRunner(
      createExportWorkerDeps(stack.config, { clients, logger: silentLogger }),
    );
    const app = appWith(runner, 5);
    // 8 match: above 5, so a job (the count asked for is not what decides).
    const big = await get(app, '/packets/download/pcap?count=100000');
    expect(big.status).toBe(202);
    const { status_url } = (await big.json()) as Json;
    expect(status_url).toMatch(/^http:\/\/wirefleet\.test\/api\/v1\/packets\/exports\/exp_/);
    await runner.drain();
    const status = await get(app, new URL(status_url).pathname.replace('/api/v1', ''), {
      Accept: 'application/json',
    });
    expect(((await status.json()) as Json).packets).toBe(ROUTED);
    // 4 match: at or under 5, built in the request.
    const small = await get(app, '/packets/download/pcap?count=4');
    expect(small.status).toBe(302);
  });

  it('answers 503 export_unavailable and marks the job failed when the runner refuses it', async () => {
    let handedOver: { tenant: string; export_id: string } | undefined;
    const refusing: ExportRunner = {
      async start(ref) {
        handedOver = ref;
        throw new Error('Lambda throttled');
      },
    };
    const res = await get(appWith(refusing, 5), '/packets/download/pcap', {
      Prefer: 'respond-async',
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as Json).error.code).toBe('export_unavailable');
    const jobs = new ExportJobRepository(clients, stack.config.flowsTable);
    const job = await jobs.get(handedOver!.tenant, handedOver!.export_id, Date.now() / 1000);
    expect(job?.status).toBe('failed');
    expect(job?.error?.code).toBe('export_not_started');
  });

  it('drain(0) on shutdown interrupts running exports and marks them failed', async () => {
    const runner = new InProcessExportRunner(
      createExportWorkerDeps(stack.config, { clients, logger: silentLogger }),
    );
    const app = appWith(runner, 5);
    const res = await get(app, '/packets/download/pcap', { Prefer: 'respond-async' });
    const { status_url } = (await res.json()) as Json;
    expect(runner.inFlight).toBe(1);
    expect(await runner.stop()).toEqual({ finished: 0, interrupted: 1 });
    const status = (await (
      await get(app, new URL(status_url).pathname.replace('/api/v1', ''), {
        Accept: 'application/json',
      })
    ).json()) as Json;
    expect(status.status).toBe('failed');
    expect(status.error.code).toBe('export_interrupted');
    // A stopped runner takes no more jobs; the API says so instead of queueing forever.
    const after = await get(app, '/packets/download/pcap', { Prefer: 'respond-async' });
    expect(after.status).toBe(503);
  });
});
