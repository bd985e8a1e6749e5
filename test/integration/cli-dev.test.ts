import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES } from '../../functions/store/config.js';
import { createRepositories } from '../../functions/store/index.js';
import { DYNALITE_CREDENTIALS, startDynalite, startS3rver } from '../../infra/local/emulators.js';

const CLI = path.resolve('bin/wirefleet.js');
const run = promisify(execFile);
let dataDir: string;

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  WIREFLEET_DATA_DIR: dataDir,
  PORT: '0',
  DYNAMODB_PORT: '0',
  S3_PORT: '0',
  // Any free port for the broker (and its TLS listener) and the local agent's control API, so
  // this does not fight another stack on this machine over 1883/8883/8001.
  MQTT_PORT: '0',
  AGENT_CONTROL_PORT: '0',
  WIREFLEET_API_TOKEN: '',
  LOG_LEVEL: 'warn',
  ...extra,
});

interface Dev {
  child: ChildProcess;
  apiUrl: string;
  token: string | undefined;
  stderr: () => string;
}

/** Starts `wirefleet dev` as a real process and waits for its ready banner. */
async function startDev(extra: Record<string, string> = {}): Promise<Dev> {
  const child = spawn(process.execPath, [CLI, 'dev'], {
    env: env(extra),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  child.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${err}`)), 30_000);
    child.stderr!.on('data', () => {
      if (err.includes('Ctrl-C stops it')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`dev exited with ${code}:\n${err}`)));
  });
  return {
    child,
    apiUrl: /API\s+(http:\/\/\S+)\/api\/v1/.exec(err)![1]!,
    token: /API token\s+(wf_\S+)/.exec(err)?.[1],
    stderr: () => err,
  };
}

async function stopDev(dev: Dev): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    dev.child.once('exit', (code) => resolve(code)),
  );
  dev.child.kill('SIGTERM');
  return exited;
}

const call = (dev: Dev, token: string, pathname: string, init: RequestInit = {}) =>
  fetch(`${dev.apiUrl}${pathname}`, {
    ...init,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      ...init.headers,
    },
  });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-cli-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('wirefleet dev and token create', () => {
  it('starts, serves, issues tenant tokens, stops on SIGTERM and keeps data across restarts', async () => {
    const dev = await startDev();
    expect(dev.stderr()).toMatch(/Docs\s+http:\/\/127\.0\.0\.1:\d+\/docs/);
    expect(dev.token).toMatch(/^wf_/);
    const tokenFile = path.join(dataDir, 'api-token');
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(dev.token);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);

    const routed = (await (
      await call(dev, dev.token!, '/api/v1/route', {
        method: 'POST',
        body: '{"query":"Write a SQL query"}',
      })
    ).json()) as { lisp_packet: { packet_id: string } };
    const id = routed.lisp_packet.packet_id;

    // A second tenant while the stack runs: token create reaches the running store.
    const created = await run(process.execPath, [CLI, 'token', 'create', '--tenant', 'acme'], {
      env: env(),
    });
    const acmeToken = created.stdout.trim();
    expect(acmeToken).toMatch(/^wf_/);
    expect(created.stderr).toMatch(/instance ID 2/);
    const acmeStats = await call(dev, acmeToken, '/api/v1/packets/stats');
    expect(acmeStats.status).toBe(200);
    expect((await call(dev, acmeToken, `/api/v1/packets/${id}`)).status).toBe(404);

    expect(await stopDev(dev)).toBe(0);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);

    // Another token while the stack is down: the CLI opens the data dir itself.
    const offline = await run(process.execPath, [CLI, 'token', 'create', '--tenant', 'acme'], {
      env: env(),
    });
    const acmeToken2 = offline.stdout.trim();

    const again = await startDev();
    expect(again.token).toBe(dev.token);
    expect((await call(again, dev.token!, `/api/v1/packets/${id}`)).status).toBe(200);
    expect((await call(again, acmeToken, '/api/v1/packets/stats')).status).toBe(200);
    expect((await call(again, acmeToken2, '/api/v1/packets/stats')).status).toBe(200);
    expect(await stopDev(again)).toBe(0);
  });

  it('uses WIREFLEET_API_TOKEN when set and does not print it', async () => {
    const dev = await startDev({ WIREFLEET_API_TOKEN: 'my-chosen-token-0123456789' });
    expect(dev.stderr()).not.toContain('my-chosen-token-0123456789');
    expect((await call(dev, 'my-chosen-token-0123456789', '/api/v1/packets/stats')).status).toBe(
      200,
    );
    expect(await stopDev(dev)).toBe(0);
  });

  it('uses DYNAMODB_ENDPOINT and S3_ENDPOINT instead of the embedded emulators', async () => {
    const s3Dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-ext-s3-'));
    const dynamo = await startDynalite({ host: '127.0.0.1', port: 0 });
    const s3 = await startS3rver({ directory: s3Dir, host: '127.0.0.1', port: 0 });
    try {
      const dev = await startDev({
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        S3_ENDPOINT: s3.endpoint,
        // External stores use the default credential chain; s3rver wants its own key pair.
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        WIREFLEET_DATA_DIR: path.join(dataDir, 'external'),
      });
      expect(dev.stderr()).toContain(`DynamoDB   ${dynamo.endpoint}`);
      expect(dev.stderr()).toContain(`S3         ${s3.endpoint}`);
      await call(dev, dev.token!, '/api/v1/route', { method: 'POST', body: '{"query":"hello"}' });
      const res = await call(dev, dev.token!, '/api/v1/packets/download/pcap', {
        headers: { Accept: 'application/json' },
      });
      const { url } = (await res.json()) as { url: string };
      expect(url.startsWith(`${s3.endpoint}/wirefleet-pcaps/`)).toBe(true);
      expect(await stopDev(dev)).toBe(0);
      // The packet went to the external DynamoDB: the embedded one was never started.
      const { packets } = createRepositories(
        createStoreClients({
          region: 'us-east-1',
          ...DEFAULT_TABLES,
          dynamoEndpoint: dynamo.endpoint,
          dynamoCredentials: DYNALITE_CREDENTIALS,
        }),
        { region: 'us-east-1', ...DEFAULT_TABLES },
      );
      expect(await packets.recent('default', 10)).toHaveLength(1);
      expect(existsSync(path.join(dataDir, 'external', 'dynamodb'))).toBe(false);
    } finally {
      await dynamo.close();
      await s3.close();
      await rm(s3Dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['token', 'create'], /--tenant NAME is required/],
    [['token', 'create', '--tenant', 'Bad Name'], /--tenant NAME is required/],
    [['token', 'create', '--tenant', 'x', '--instance-id', '99999999'], /--instance-id/],
    [['token', 'create', '--tenant', 'x', '--bogus'], /Unknown option/],
    [['frobnicate'], /unknown command/],
  ])('exits 2 with one line for %j', async (args, message) => {
    const result = await run(process.execPath, [CLI, ...args], { env: env() }).catch((e) => e);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});
