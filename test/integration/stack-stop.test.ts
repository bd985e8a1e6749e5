import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SIGNAL_COPY_WINDOW_MS } from '../../infra/cli/stop-signals.js';
import { eventually } from '../helpers/agent-process.js';
import {
  type DevProcess,
  spawnDev,
  startDev,
  stopLeftoverDevs,
  unexpectedStderr,
} from '../helpers/dev-process.js';
import { type LoadTally, newTally, send, tallied } from '../helpers/http-load.js';
import { prng } from '../helpers/prng.js';

// Real processes: `wirefleet dev` (dynalite and s3rver on disk, aedes, the API, and the local
// agent replaying its capture over MQTT) is stopped with SIGTERM, again and again, while this
// process routes queries, downloads PCAPs and reads packets back. The test picks the moments.

const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-stack-stop-'));
afterAll(async () => {
  await stopLeftoverDevs();
  rmSync(work, { recursive: true, force: true });
});

const TOKEN = `wf_stop_${randomBytes(16).toString('hex')}`;
const QUERIES = ['Write a Python function', 'Summarise this contract', 'Quick: 2+2?', 'hello'];

const devEnv = (dataDir: string, extra: Record<string, string> = {}) => ({
  WIREFLEET_DATA_DIR: dataDir,
  PORT: '0',
  DYNAMODB_PORT: '0',
  S3_PORT: '0',
  MQTT_PORT: '0',
  AGENT_CONTROL_PORT: '0',
  WIREFLEET_API_TOKEN: TOKEN,
  // The agent replays its generated capture, as a non-root `npm start` does.
  WIREFLEET_LOCAL_AGENT: 'replay',
  LOG_LEVEL: 'warn',
  ...extra,
});

const auth = { Authorization: `Bearer ${TOKEN}` };

/** Closed-loop clients: half on fresh connections, half on kept-alive ones. */
function startLoad(apiUrl: string, tally: LoadTally, hooks: { onDownloadSent?: () => void } = {}) {
  let running = true;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const route = (agent: http.Agent | false) =>
    tallied(tally, 'POST /route', () =>
      routeOnce(apiUrl, QUERIES[tally.acknowledged.length % QUERIES.length], agent),
    ).then((answer) => {
      if (answer) tally.acknowledged.push(packetId(answer));
    });
  const download = async (agent: http.Agent | false) => {
    const answer = await tallied(tally, 'GET /packets/download/pcap', () =>
      send(`${apiUrl}/api/v1/packets/download/pcap?count=200`, {
        agent,
        headers: { ...auth, Accept: 'application/json' },
        onSent: hooks.onDownloadSent,
      }),
    );
    const url = answer && (JSON.parse(answer.body.toString()) as { url?: string }).url;
    if (!url) return;
    const file = await tallied(tally, 'GET presigned pcap', () => send(url, { agent }));
    if (file && file.body.length < 24) tally.failures.push(`pcap of ${file.body.length} bytes`);
  };
  const read = (agent: http.Agent | false) => {
    const id = tally.acknowledged.at(-1);
    if (!id) return Promise.resolve();
    return tallied(tally, `GET /packets/${id}`, () =>
      send(`${apiUrl}/api/v1/packets/${id}`, { agent, headers: auth }),
    );
  };
  const worker = async (i: number) => {
    const agent = i % 2 === 0 ? false : keepAlive;
    for (let n = 0; running; n++) {
      const refusedBefore = tally.refused;
      if (n % 4 === i % 4) await download(agent);
      else if (n % 4 === 3) await read(agent);
      else await route(agent);
      // Nothing listens any more: do not spin.
      if (tally.refused > refusedBefore) await new Promise((r) => setTimeout(r, 100));
    }
  };
  const workers = Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  return {
    /** A burst of concurrent routing queries. */
    burst: (n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => route(i % 2 ? keepAlive : false))),
    async stop() {
      running = false;
      await workers;
      keepAlive.destroy();
    },
  };
}

const routeOnce = (
  apiUrl: string,
  query = 'Write a SQL query',
  agent: http.Agent | false = false,
) =>
  send(`${apiUrl}/api/v1/route`, {
    method: 'POST',
    agent,
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ query }),
  });

function packetId(answer: { body: Buffer } | undefined): string {
  const id = answer && JSON.parse(answer.body.toString()).lisp_packet?.packet_id;
  if (typeof id !== 'string') throw new Error('POST /route answered without a packet id');
  return id;
}

/** Every packet answered 200 is there (GET /packets/{id}), 8 requests at a time. */
async function expectPacketsKept(apiUrl: string, ids: string[]) {
  const missing: string[] = [];
  for (let i = 0; i < ids.length; i += 8) {
    await Promise.all(
      ids.slice(i, i + 8).map(async (id) => {
        const answer = await send(`${apiUrl}/api/v1/packets/${id}`, { headers: auth });
        if (answer.status !== 200) missing.push(`${id}: ${answer.status}`);
      }),
    );
  }
  expect(missing).toEqual([]);
}

type Moment = 'during start-up' | 'as load starts' | 'mid-download' | 'mid-burst' | 'after a while';
const MOMENTS: Moment[] = [
  'as load starts',
  'mid-download',
  'mid-burst',
  'after a while',
  'during start-up',
  'mid-download',
  'mid-burst',
  'as load starts',
  'after a while',
  'mid-download',
];

describe('wirefleet dev stops cleanly under load (SIGTERM)', () => {
  it(`exits 0 every time, never answers 5xx, and keeps every acknowledged packet (${MOMENTS.length} stops)`, async () => {
    const dataDir = path.join(work, 'cycles');
    const random = prng(9);
    const totals = { acknowledged: 0, refused: 0, resets: 0, answered: 0, drained: 0 };
    let previous: string[] = [];
    for (const [cycle, moment] of MOMENTS.entries()) {
      const what = `stop ${cycle + 1} (${moment})`;
      let dev: DevProcess;
      if (moment === 'during start-up') {
        // As soon as the stack has begun to start: it stops once it is up, without a banner.
        dev = spawnDev(devEnv(dataDir));
        await eventually(
          async () => (dev.stderr().includes('starting the local stack') ? true : undefined),
          'the start-up notice',
          60_000,
          5,
        );
        dev.kill('SIGTERM');
        const { code, signal } = await dev.exited;
        expect({ what, code, signal }).toEqual({ what, code: 0, signal: null });
        expect(unexpectedStderr(dev.stderr()), dev.stderr()).toEqual([]);
        expect(dev.stderr()).not.toContain('Ctrl-C stops it');
        expect(dev.stderr()).toMatch(/SIGTERM: stopping[\s\S]*local stack stopped/);
        continue;
      }
      dev = await startDev(devEnv(dataDir));
      const apiUrl = dev.apiUrl();
      // What the previous stops acknowledged survived them.
      await expectPacketsKept(apiUrl, previous);

      const tally = newTally();
      // One packet first, so a download never finds the store empty (404 no_packets).
      await tallied(tally, 'first POST /route', () => routeOnce(apiUrl)).then((answer) =>
        tally.acknowledged.push(packetId(answer)),
      );
      let signalled = false;
      // Once: a second SIGTERM would end the drain at once (tested below).
      const stop = () => {
        if (signalled) return;
        signalled = true;
        dev.kill('SIGTERM');
      };
      const load = startLoad(apiUrl, tally, {
        // A download sent once the load is under way.
        onDownloadSent:
          moment === 'mid-download' ? () => tally.acknowledged.length >= 10 && stop() : undefined,
      });
      if (moment === 'as load starts') stop();
      if (moment === 'mid-burst') {
        await eventually(async () => (tally.acknowledged.length >= 5 ? true : undefined), 'load');
        const burst = load.burst(24);
        await eventually(
          async () => ((tally.statuses[200] ?? 0) >= 10 ? true : undefined),
          'the first answers of the burst',
        );
        stop();
        await burst;
      }
      if (moment === 'after a while') {
        await new Promise((r) => setTimeout(r, 500 + random() * 2000));
        stop();
        // As `npm start` under systemd gets it: from the cgroup, and forwarded by npm. A copy
        // is the same stop, not a second one.
        dev.kill('SIGTERM');
      }
      const { code, signal } = await dev.exited;
      await load.stop();

      expect({ what, code, signal }).toEqual({ what, code: 0, signal: null });
      expect(unexpectedStderr(dev.stderr()), dev.stderr()).toEqual([]);
      // The server's own count: every request it had begun was answered, none cut.
      const stopped = /local stack stopped \((\d+) request\(s\) answered while draining\)\n/.exec(
        dev.stderr(),
      );
      expect(stopped, dev.stderr()).not.toBeNull();
      totals.drained += Number(stopped![1]);
      expect({ what, failures: tally.failures }).toEqual({ what, failures: [] });
      totals.acknowledged += tally.acknowledged.length;
      totals.refused += tally.refused;
      totals.resets += tally.resetBeforeAnswer;
      totals.answered += Object.values(tally.statuses).reduce((a, b) => a + b, 0);
      previous = tally.acknowledged;
    }
    const dev = await startDev(devEnv(dataDir));
    try {
      await expectPacketsKept(dev.apiUrl(), previous);
    } finally {
      dev.kill('SIGTERM');
      expect((await dev.exited).code).toBe(0);
    }
    console.info(
      `${MOMENTS.length} stops under load: ${totals.answered} answers (${totals.drained} during drains), ${totals.acknowledged} packets acknowledged and found again, 0 5xx, 0 cut; ${totals.refused} connections refused and ${totals.resets} reset before the server read them (listener closing)`,
    );
    expect(totals.acknowledged).toBeGreaterThan(0);
  });
});

/** A POST whose body is half sent: in flight for as long as the test likes. */
function halfSentRequest(apiUrl: string) {
  const { hostname, port } = new URL(apiUrl);
  const body = JSON.stringify({ query: 'held open' });
  const socket = net.connect(Number(port), hostname);
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  const sent = new Promise<void>((resolve) =>
    socket.write(
      `POST /api/v1/route HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      () => resolve(),
    ),
  );
  return {
    sent,
    closed,
    received: () => received,
    finish: () => socket.write(body.slice(5)),
  };
}

/** Both half-sent requests reached the server: a full round trip after them has come back. */
async function roundTrip(apiUrl: string) {
  expect((await send(`${apiUrl}/api/v1/packets/stats`, { headers: auth })).status).toBe(200);
}

describe('wirefleet dev: the drain bound and the second signal', () => {
  it('a second SIGTERM during a long drain exits at once (143) and says so; the data survives', async () => {
    const dataDir = path.join(work, 'second-signal');
    const dev = await startDev(
      devEnv(dataDir, { WIREFLEET_DRAIN_SECONDS: '120', LOG_LEVEL: 'info' }),
    );
    const apiUrl = dev.apiUrl();
    const routed = await routeOnce(apiUrl, 'before the stop');
    expect(routed.status).toBe(200);
    const id = packetId(routed);
    const agentPid = Number(
      /"msg":"local agent started","pid":(\d+)/.exec(dev.stdout())?.[1] ?? Number.NaN,
    );
    expect(agentPid).toBeGreaterThan(0);

    const held = halfSentRequest(apiUrl);
    const finished = halfSentRequest(apiUrl);
    await Promise.all([held.sent, finished.sent]);
    await roundTrip(apiUrl);

    dev.kill('SIGTERM');
    await eventually(
      async () => (/SIGTERM: stopping/.test(dev.stderr()) ? true : undefined),
      'the stop notice',
    );
    expect(dev.stderr()).toMatch(/2 request\(s\) in flight get up to 120 s/);
    // No new connections, but a request in flight is answered, with Connection: close.
    const refused = await send(`${apiUrl}/api/v1/packets/stats`, { headers: auth }).catch(
      (e: { code?: string }) => e.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    finished.finish();
    await finished.closed;
    expect(finished.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(finished.received().toLowerCase()).toContain('connection: close');

    // Later than a copy of the first signal would come (see onStopSignals).
    await new Promise((r) => setTimeout(r, SIGNAL_COPY_WINDOW_MS));
    dev.kill('SIGTERM');
    const { code } = await dev.exited;
    expect(code).toBe(143);
    const notices = dev
      .stderr()
      .split('\n')
      .filter((l) => l.includes('again while stopping'));
    expect(notices).toEqual([
      'wirefleet: SIGTERM again while stopping: exiting now (status 143), cutting 1 request(s) in flight',
    ]);
    await held.closed;
    // The local agent was asked to stop too, and does.
    await eventually(async () => {
      try {
        process.kill(agentPid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 'the local agent to exit');

    const again = await startDev(devEnv(dataDir));
    try {
      await expectPacketsKept(again.apiUrl(), [id]);
    } finally {
      again.kill('SIGTERM');
      expect((await again.exited).code).toBe(0);
    }
  });

  it('at the drain bound cuts what is still in flight and exits 0', async () => {
    const dev = await startDev(
      devEnv(path.join(work, 'bound'), {
        WIREFLEET_DRAIN_SECONDS: '1',
        WIREFLEET_LOCAL_AGENT: 'off',
      }),
    );
    const apiUrl = dev.apiUrl();
    const held = halfSentRequest(apiUrl);
    await held.sent;
    await roundTrip(apiUrl);
    dev.kill('SIGTERM');
    const { code } = await dev.exited;
    await held.closed;
    expect(code).toBe(0);
    expect(dev.stderr()).toMatch(/1 request\(s\) in flight get up to 1 s/);
    expect(unexpectedStderr(dev.stderr()), dev.stderr()).toEqual([]);
    expect(dev.stdout()).toMatch(/"msg":"drain bound reached: requests cut","requests":1/);
    expect(held.received()).toBe('');
  });
});
