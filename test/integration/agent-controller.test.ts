import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CaptureController,
  type CaptureControllerOptions,
  ControlError,
} from '../../agent/capture-controller.js';
import { createControlApp } from '../../agent/control/app.js';
import { type ControlServer, startControlServer } from '../../agent/control/server.js';
import { createAgentLogger } from '../../agent/log.js';
import { flowRecordId } from '../../agent/record-id.js';
import type { FlowRecord } from '../../native/index.js';
import { alignFlows, writePcap } from '../helpers/capture-gen.js';
import { everythingScenario, type Scenario } from '../helpers/capture-scenarios.js';
import { sendUdpFromNamespace } from '../helpers/udp-sender.js';

// The real CaptureController on the real native engine. (a) File replay of a generated capture,
// checked against the independent model's ground truth (test/helpers/capture-gen.ts), and replay
// loops giving the same record ids. (b) As root: live capture on a veth pair through the real
// control API server on 127.0.0.1 — one end in the test's own namespace (so this process can
// open it), the other in a fresh network namespace that sends the traffic.

const AGENT_ID = 'agent-it-1';
const TOKEN = 'integration-token-0123456789abcdef';
const isRoot = process.getuid?.() === 0;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-agent-controller-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Harness {
  controller: CaptureController;
  flows: FlowRecord[];
  batches: number;
  events: { type: string; severity: string; message: string; details?: Record<string, unknown> }[];
  lines: Record<string, unknown>[];
  audits: () => Record<string, unknown>[];
}

const controllers: CaptureController[] = [];
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.close();
});

function harness(
  capture: Partial<CaptureControllerOptions['capture']>,
  flows: Partial<CaptureControllerOptions['flows']> = {},
): Harness {
  const h: Partial<Harness> & { flows: FlowRecord[]; batches: number } = {
    flows: [],
    batches: 0,
    events: [],
    lines: [],
  };
  const logger = createAgentLogger({
    level: 'debug',
    write: (line) => h.lines!.push(JSON.parse(line) as Record<string, unknown>),
  });
  h.controller = new CaptureController({
    agentId: AGENT_ID,
    capture: {
      backend: 'afpacket',
      buffer_size_mb: 4,
      snaplen: 0,
      filter: '',
      timestamp_source: 'kernel',
      promiscuous: false,
      replay_loop_sec: 0,
      ...capture,
    },
    flows: {
      table_size: 65_536,
      idle_timeout_sec: 300,
      active_timeout_sec: 1800,
      summary_interval_sec: 1,
      ...flows,
    },
    logger,
    // Asynchronous on purpose: the controller must await it (graceful stop, end of file).
    onFlows: async (batch) => {
      await new Promise((r) => setTimeout(r, 100));
      h.flows.push(...batch);
      h.batches++;
    },
    onEvent: (type, severity, message, details) =>
      h.events!.push({ type, severity, message, ...(details ? { details } : {}) }),
    verifyFirmware: () => ({ status: 'valid', algorithm: 'Ed25519', message: 'test' }),
  });
  h.audits = () => h.lines!.filter((l) => l.audit === true);
  controllers.push(h.controller);
  return h as Harness;
}

function scenarioFile(s: Scenario, name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, writePcap(s.frames));
  return file;
}

const meterFlows = (s: Scenario) => ({
  idle_timeout_sec: s.options.idleTimeoutS,
  active_timeout_sec: s.options.activeTimeoutS,
});

describe('capture controller: file replay (real engine)', () => {
  const s = everythingScenario();
  let file: string;
  beforeAll(() => {
    file = scenarioFile(s, 'everything.pcap');
  });

  it('delivers exactly the ground-truth flows, then ends by itself (end_of_file)', async () => {
    const h = harness({ file, backend: 'file' }, meterFlows(s));
    const started = await h.controller.start({}, 'test');
    expect(started).toMatchObject({
      status: 'started',
      interface: null,
      backend: 'file',
      file,
      session_id: expect.stringMatching(/^sess_[0-9a-f]{12}$/),
    });
    const ended = await waitFor('end of file', () =>
      h.events.find((e) => e.type === 'capture_stopped'),
    );
    expect(ended.details).toMatchObject({ reason: 'end_of_file', session_id: started.session_id });
    expect(h.controller.status()).toMatchObject({ running: false, backend: 'file', file });

    const { actual, expected } = alignFlows(
      h.flows as unknown as Record<string, unknown>[],
      s.flows,
    );
    expect(actual).toEqual(expected);
    expect(h.flows.filter((f) => f.end_reason === 'end_of_capture').length).toBeGreaterThan(0);

    const m = h.controller.metrics();
    expect(m).toMatchObject({
      running: false,
      packets_captured: s.stats.packets,
      bytes_captured: s.stats.bytes,
      parse_errors: s.stats.parse_errors,
      packets_dropped: 0,
      drop_rate: 0,
      active_flows: 0,
      total_flows: s.flows.length,
    });
    // Stopping a session that ended by itself is "not running".
    await expect(h.controller.stop({}, 'test')).rejects.toMatchObject({
      status: 409,
      code: 'not_running',
    });
    expect(h.audits().map((a) => [a.action, a.outcome, a.actor])).toEqual([
      ['capture.start', 'ok', 'test'],
      ['capture.stop', 'refused', 'test'],
    ]);
  });

  it('replays every replay_loop_sec with a fresh meter: the same flows get the same record ids', async () => {
    const h = harness({ file, backend: 'file', replay_loop_sec: 1 }, meterFlows(s));
    await h.controller.start({}, 'test');
    const n = s.flows.length;
    await waitFor('two runs', () => h.flows.length >= 2 * n);
    expect(h.controller.status().running).toBe(true);
    const stopped = await h.controller.stop({ graceful: true }, 'test');
    expect(stopped).toMatchObject({ status: 'stopped', packets_dropped: 0, drop_rate: 0 });
    expect(stopped.packets_captured % s.stats.packets).toBe(0);
    expect(h.flows.length % n).toBe(0);

    const ids = (run: number) =>
      h.flows.slice(run * n, (run + 1) * n).map((f) => flowRecordId(AGENT_ID, f));
    const first = ids(0);
    expect(new Set(first).size).toBe(n);
    expect(ids(1)).toEqual(first);
    // ...although each run's meter hashes with its own random seed (flow_id differs).
    const flowIds = (run: number) => h.flows.slice(run * n, (run + 1) * n).map((f) => f.flow_id);
    expect(flowIds(1)).not.toEqual(flowIds(0));
    // The ground truth holds for the second run as well.
    const { actual, expected } = alignFlows(
      h.flows.slice(n, 2 * n) as unknown as Record<string, unknown>[],
      s.flows,
    );
    expect(actual).toEqual(expected);
    expect(h.events.map((e) => e.type)).toEqual(['capture_started', 'capture_stopped']);
    expect(h.events[1]!.details).toMatchObject({ reason: 'requested' });
  });

  it('also exports the flows to a NetFlow v5 collector when enabled', async () => {
    const collector: Socket = createSocket('udp4');
    await new Promise<void>((r) => collector.bind(0, '127.0.0.1', r));
    let records = 0;
    collector.on('message', (msg) => {
      if (msg.readUInt16BE(0) === 5) records += msg.readUInt16BE(2);
    });
    try {
      const h = harness({ file, backend: 'file' }, meterFlows(s));
      const enabled = h.controller.enableNetflow(
        {
          collector_ip: '127.0.0.1',
          collector_port: collector.address().port,
          export_interval_sec: 1,
          netflow_version: 5,
        },
        'test',
      );
      expect(enabled).toMatchObject({ status: 'enabled', netflow_version: 5, applies: 'now' });
      expect(h.controller.status().netflow_enabled).toBe(true);
      await h.controller.start({}, 'test');
      await waitFor('end of file', () => h.events.find((e) => e.type === 'capture_stopped'));
      // v5: one record per direction that has packets, IPv4 only.
      const v4 = s.flows.filter((f) => f.ip_version === 4);
      const want = v4.reduce(
        (n, f) => n + (f.packets_fwd > 0 ? 1 : 0) + (f.packets_rev > 0 ? 1 : 0),
        0,
      );
      await waitFor('NetFlow records', () => records >= want);
      expect(records).toBe(want);
      expect(h.flows).toHaveLength(s.flows.length);
      expect(h.audits().map((a) => a.action)).toEqual(['netflow.enable', 'capture.start']);
    } finally {
      collector.close();
    }
  });

  it('refuses what it cannot do with typed errors, and audits the refusals', async () => {
    const notPcap = path.join(dir, 'not-a-capture.txt');
    writeFileSync(notPcap, 'hello, this is text\n');
    const h = harness({ file: path.join(dir, 'missing.pcap'), backend: 'file' });
    const refuse = (params: Parameters<CaptureController['start']>[0]) =>
      h.controller.start(params, 'test').then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(await refuse({})).toMatchObject({ status: 400, code: 'invalid_capture_file' });
    expect(await refuse({ file: notPcap })).toMatchObject({
      status: 400,
      code: 'invalid_capture_file',
      message: `${notPcap}: not a pcap or pcapng file`,
    });
    expect(await refuse({ file, filter_expr: 'udp' })).toMatchObject({ code: 'unsupported' });
    expect(await refuse({ file, backend: 'afpacket' })).toMatchObject({ code: 'invalid_request' });
    expect(await refuse({ interface: 'wf-nope0', file })).toMatchObject({
      code: 'invalid_request',
    });
    expect(await refuse({ interface: 'wf-nope0', snaplen: 10 })).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
    expect(await refuse({ interface: 'wf-nope0', filter_expr: 'tcp port banana' })).toMatchObject({
      status: 400,
      code: 'invalid_filter',
    });
    const e = await refuse({ interface: 'wf-nope0' });
    expect(e).toBeInstanceOf(ControlError);
    expect(e).toMatchObject({
      status: 400,
      code: 'no_such_interface',
      message: 'no such interface "wf-nope0"',
    });
    expect(() =>
      h.controller.enableNetflow(
        {
          collector_ip: 'collector.example',
          collector_port: 2055,
          export_interval_sec: 60,
          netflow_version: 5,
        },
        'test',
      ),
    ).toThrow(/hostnames are not resolved/);

    await h.controller.start({ file }, 'test');
    expect(await refuse({ file })).toMatchObject({ status: 409, code: 'already_running' });
    await waitFor('end of file', () => h.events.find((e) => e.type === 'capture_stopped'));

    const refused = h.audits().filter((a) => a.outcome === 'refused');
    expect(refused).toHaveLength(10);
    for (const a of refused) {
      expect(a).toMatchObject({ actor: 'test', encryption: false });
      expect(typeof a.code).toBe('string');
    }
    expect(refused.find((a) => a.code === 'invalid_filter')).toMatchObject({
      action: 'capture.start',
      filter: 'tcp port banana',
      interface: 'wf-nope0',
    });
  });

  it('refuses a FIFO or a directory as the file (not_a_file) without blocking on it', async () => {
    const fifo = path.join(dir, 'initctl');
    execFileSync('mkfifo', [fifo]);
    const folder = path.join(dir, 'a-directory');
    mkdirSync(folder);
    // Guard: a blocking open of the FIFO would freeze this process until a writer appears;
    // this child opens it for writing (non-blocking: only once a reader waits) so a regression
    // fails the test instead of hanging it.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const until = Date.now() + 15000;
         const t = setInterval(() => {
           try { fs.closeSync(fs.openSync(process.argv[1], fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); clearInterval(t); }
           catch { if (Date.now() > until) clearInterval(t); }
         }, 100);`,
        fifo,
      ],
      { stdio: 'ignore' },
    );
    try {
      const h = harness({ file: fifo, backend: 'file' });
      const refuse = (params: Parameters<CaptureController['start']>[0]) =>
        h.controller.start(params, 'test').then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(await refuse({})).toMatchObject({
        status: 400,
        code: 'not_a_file',
        message: `${fifo}: not a regular file`,
      });
      expect(await refuse({ file: folder })).toMatchObject({ status: 400, code: 'not_a_file' });
      expect(h.controller.status().running).toBe(false);
      expect(h.audits().map((a) => [a.action, a.outcome, a.code])).toEqual([
        ['capture.start', 'refused', 'not_a_file'],
        ['capture.start', 'refused', 'not_a_file'],
      ]);
    } finally {
      writer.kill();
    }
  });

  it('a meter the engine refuses to make ends the session (capture_failed), not the agent', async () => {
    const h = harness({ file, backend: 'file' });
    // The engine refuses a table it cannot make when the run begins, after start() answered.
    h.controller.configureMeter({ table_size: 1 }, 'test');
    await h.controller.start({}, 'test');
    const failed = await waitFor('capture_failed', () =>
      h.events.find((e) => e.type === 'capture_failed'),
    );
    expect(failed).toMatchObject({
      severity: 'critical',
      message: expect.stringContaining('max_flows must be 4096..16777216'),
    });
    expect(h.controller.status().running).toBe(false);
    await expect(h.controller.stop({}, 'test')).rejects.toMatchObject({ code: 'not_running' });
    // The session is over: a corrected table starts again.
    h.controller.configureMeter({ table_size: 65_536 }, 'test');
    await h.controller.start({}, 'test');
    await waitFor('end of file', () => h.events.find((e) => e.type === 'capture_stopped'));
  });

  it('meter settings: table and timeouts wait for the next start while running; the interval applies now', async () => {
    const h = harness({ file, backend: 'file', replay_loop_sec: 60 }, meterFlows(s));
    expect(h.controller.configureMeter({ table_size: 8192 }, 'test')).toMatchObject({
      status: 'enabled',
      table_size: 8192,
      applies: 'now',
    });
    await h.controller.start({}, 'test');
    await waitFor('first run', () => h.flows.length >= s.flows.length);
    const deferred = h.controller.configureMeter({ idle_timeout_sec: 1 }, 'test');
    expect(deferred).toMatchObject({
      idle_timeout_sec: 1,
      table_size: 8192,
      applies: 'next_start',
      note: expect.stringContaining('next starts'),
    });
    expect(h.controller.configureMeter({ export_interval_sec: 5 }, 'test')).toMatchObject({
      export_interval_sec: 5,
      applies: 'now',
    });
    await h.controller.stop({ graceful: true }, 'test');
    expect(h.audits().filter((a) => a.action === 'meter.configure')).toHaveLength(3);
    // The next start meters with the new timeouts: a 1 s idle timeout splits more flows.
    h.flows.length = 0;
    await h.controller.start({}, 'test');
    await waitFor('a run with the new settings', () => h.controller.metrics().total_flows > 0);
    await h.controller.stop({ graceful: true }, 'test');
    expect(h.flows.length).toBeGreaterThan(s.flows.length);
  });

  it('lists backends from the engine, file included, with no made-up figures', () => {
    const h = harness({});
    const { available_backends: list } = h.controller.backends();
    expect(list.map((b) => b.name).sort()).toEqual(
      ['afpacket', 'dpdk', 'file', 'libpcap', 'pf_ring', 'xdp'].sort(),
    );
    for (const b of list) {
      expect(b.detail.length).toBeGreaterThan(0);
      expect(b.max_throughput_gbps).toBeNull();
      expect(b.cpu_overhead_pct).toBeNull();
    }
    expect(list.find((b) => b.name === 'xdp')!.status).toBe('unavailable');
  });
});

describe('control API server (loopback)', () => {
  it('serves the app on 127.0.0.1, refuses other listen addresses unless allowed, and busy ports', async () => {
    const h = harness({});
    const app = createControlApp({
      controller: h.controller,
      token: TOKEN,
      logger: createAgentLogger({
        write: (line) => h.lines.push(JSON.parse(line) as Record<string, unknown>),
      }),
    });
    const server = await startControlServer({ app, listen: '127.0.0.1:0' });
    try {
      const res = await fetch(`${server.url}/packet_capture/capture/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ running: false, encryption_enabled: false });
      expect(h.lines.find((l) => l.msg === 'control request')).toMatchObject({
        status: 200,
        remote: '127.0.0.1',
      });
      const port = new URL(server.url).port;
      await expect(startControlServer({ app, listen: `127.0.0.1:${port}` })).rejects.toThrow(
        `control API cannot listen on 127.0.0.1:${port}: EADDRINUSE`,
      );
    } finally {
      await server.close();
    }
    const logged: Record<string, unknown>[] = [];
    const logger = createAgentLogger({
      write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>),
    });
    await expect(startControlServer({ app, listen: '0.0.0.0:8787', logger })).rejects.toThrow(
      /^control API listen address 0\.0\.0\.0:8787 is not loopback: refused/,
    );
    expect(logged[0]).toMatchObject({ level: 'error', msg: 'control API not started' });
    for (const bad of ['8787', 'localhost', '127.0.0.1:99999', '::1:8787']) {
      await expect(startControlServer({ app, listen: bad })).rejects.toThrow(/want HOST:PORT/);
    }
  });
});

// ---- live capture through the control API server, as root ----

const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`
  .slice(-6)
  .padStart(6, '0');
const nsB = `wfctl-b-${id}`;
const vethA = `wca${id}`;
const vethB = `wcb${id}`;
const x = 1 + (process.pid % 250);
const y = Math.floor(Math.random() * 250);
const addrA = `10.${x}.${y}.1`;
const addrB = `10.${x}.${y}.2`;

const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(!isRoot)('control API over a live capture (veth pair, root)', () => {
  let created = false;
  let sink: Socket;

  beforeAll(async () => {
    ip('netns', 'add', nsB);
    created = true;
    ip('link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    // Our end: a /32 and a /32 route, so the host gains no subnet route and replies stay on the pair.
    ip('addr', 'add', `${addrA}/32`, 'dev', vethA);
    ip('link', 'set', vethA, 'up');
    ip('route', 'add', `${addrB}/32`, 'dev', vethA);
    ip('-n', nsB, 'link', 'set', 'lo', 'up');
    ip('-n', nsB, 'addr', 'add', `${addrB}/24`, 'dev', vethB);
    ip('-n', nsB, 'link', 'set', vethB, 'up');
    const mac = (args: string[]) => (JSON.parse(ip(...args)) as { address: string }[])[0]!.address;
    const macA = mac(['-j', 'link', 'show', vethA]);
    const macB = mac(['-n', nsB, '-j', 'link', 'show', vethB]);
    ip('-n', nsB, 'neigh', 'replace', addrA, 'lladdr', macA, 'dev', vethB, 'nud', 'permanent');
    ip('neigh', 'replace', addrB, 'lladdr', macB, 'dev', vethA, 'nud', 'permanent');
    // Something listening on 9999, so no ICMP port-unreachable answers the traffic.
    sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(9999, addrA, r));
  });

  afterAll(() => {
    sink?.close();
    if (!created) return;
    try {
      ip('link', 'del', vethA);
    } catch {
      // went with the namespace
    }
    ip('netns', 'del', nsB);
  });

  let server: ControlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each(['afpacket', 'libpcap'] as const)(
    'start with a BPF filter, traffic, status/metrics/flows, graceful stop delivers the flows (%s)',
    async (backend) => {
      const h = harness({ interface: vethA, backend });
      const app = createControlApp({
        controller: h.controller,
        token: TOKEN,
        logger: createAgentLogger({
          write: (line) => h.lines.push(JSON.parse(line) as Record<string, unknown>),
        }),
      });
      server = await startControlServer({ app, listen: '127.0.0.1:0' });
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const call = async (method: 'GET' | 'POST', p: string, body?: unknown) => {
        const res = await fetch(`${server!.url}/packet_capture/capture${p}`, {
          method,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      };

      expect((await fetch(`${server.url}/packet_capture/capture/status`)).status).toBe(401);
      const bad = await call('POST', '/start', {
        interface: vethA,
        filter_expr: 'udp port banana',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_filter');
      expect(bad.body.error.message).toMatch(/banana/);
      const missing = await call('POST', '/start', { interface: 'wf-nope0', backend });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toEqual({
        code: 'no_such_interface',
        message: 'no such interface "wf-nope0"',
      });

      const start = await call('POST', '/start', {
        interface: vethA,
        backend,
        buffer_size_mb: 8,
        filter_expr: 'udp port 9999',
      });
      expect(start.status).toBe(200);
      expect(start.body).toMatchObject({
        status: 'started',
        interface: vethA,
        backend,
        buffer_size_mb: 8,
        timestamp_source: 'kernel',
      });
      expect((await call('POST', '/start', { interface: vethA })).body.error.code).toBe(
        'already_running',
      );

      const n9999 = 120;
      const n8888 = 30;
      const sizes = (n: number, seed: number) =>
        Array.from({ length: n }, (_, i) => 1 + ((i * 37 + seed) % 1400));
      const plan = [
        { host: addrA, port: 9999, count: n9999, sizes: sizes(n9999, 3) },
        { host: addrA, port: 8888, count: n8888, sizes: sizes(n8888, 5) },
      ];
      sendUdpFromNamespace(nsB, plan);
      const ipBytes = plan[0]!.sizes.reduce((sum, n) => sum + 20 + 8 + n, 0);

      const status = await call('GET', '/status');
      expect(status.body).toMatchObject({
        running: true,
        interface: vethA,
        backend,
        buffer_size_mb: 8,
        flow_metering_enabled: true,
        encryption_enabled: false,
        netflow_enabled: false,
        filter: 'udp port 9999',
        session_id: start.body.session_id,
      });
      const metrics = await waitFor('the packets in the metrics', async () => {
        const m = await call('GET', '/metrics');
        return m.body.packets_captured >= n9999 ? m.body : undefined;
      });
      expect(metrics).toMatchObject({
        running: true,
        packets_captured: n9999,
        packets_dropped: 0,
        drop_rate: 0,
        active_flows: 1,
      });
      const flows = await call('GET', '/flows?sort_by=bytes&min_packets=1');
      expect(flows.status).toBe(200);
      expect(flows.body).toEqual([
        expect.objectContaining({
          src_ip: addrB,
          dst_ip: addrA,
          dst_port: 9999,
          protocol: 17,
          packets: n9999,
          bytes: ipBytes,
          state: 'ACTIVE',
          end_reason: null,
        }),
      ]);
      expect((await call('GET', `/flows?min_packets=${n9999 + 1}`)).body).toEqual([]);

      const stop = await call('POST', '/stop', { graceful: true });
      expect(stop.status).toBe(200);
      expect(stop.body).toMatchObject({
        status: 'stopped',
        packets_captured: n9999,
        packets_dropped: 0,
        drop_rate: 0,
        flows_discarded: 0,
      });
      // Graceful: the active flow was ended and delivered before the answer.
      expect(h.flows).toEqual([
        expect.objectContaining({
          src_ip: addrB,
          dst_port: 9999,
          packets: n9999,
          bytes: ipBytes,
          end_reason: 'end_of_capture',
        }),
      ]);
      expect((await call('GET', '/status')).body.running).toBe(false);
      expect((await call('GET', '/metrics')).body).toMatchObject({
        running: false,
        packets_captured: n9999,
      });
      expect((await call('POST', '/stop', {})).body.error.code).toBe('not_running');

      const actor = 'control-api:127.0.0.1';
      const audits = h.audits().map((a) => [a.action, a.outcome, a.actor, a.code ?? null]);
      expect(audits).toEqual([
        ['control.auth', 'refused', actor, 'missing_token'],
        ['capture.start', 'refused', actor, 'invalid_filter'],
        ['capture.start', 'refused', actor, 'no_such_interface'],
        ['capture.start', 'ok', actor, null],
        ['capture.start', 'refused', actor, 'already_running'],
        ['capture.stop', 'ok', actor, null],
        ['capture.stop', 'refused', actor, 'not_running'],
      ]);
      expect(h.audits()[3]).toMatchObject({
        interface: vethA,
        filter: 'udp port 9999',
        encryption: false,
      });
      expect(h.lines.filter((l) => l.msg === 'control request').length).toBeGreaterThan(8);
    },
  );

  it('a stop that is not graceful discards active flows; ended flows also go to a NetFlow v5 collector', async () => {
    const collector: Socket = createSocket('udp4');
    await new Promise<void>((r) => collector.bind(0, '127.0.0.1', r));
    const v5: Buffer[] = [];
    collector.on('message', (msg) => v5.push(msg));
    try {
      const h = harness({ interface: vethA });
      h.controller.enableNetflow(
        {
          collector_ip: '127.0.0.1',
          collector_port: collector.address().port,
          export_interval_sec: 1,
          netflow_version: 5,
        },
        'test',
      );
      await h.controller.start({ filter_expr: 'udp port 9999' }, 'test');
      const send = (count: number) =>
        sendUdpFromNamespace(nsB, [
          { host: addrA, port: 9999, count, sizes: Array(count).fill(100) },
        ]);
      send(10);
      await waitFor('10 packets', () => h.controller.metrics().packets_captured >= 10);
      expect(h.controller.flows({ limit: 10, min_packets: 0, sort_by: 'packets' })).toHaveLength(1);
      const stopped = await h.controller.stop({ graceful: false }, 'test');
      expect(stopped).toMatchObject({ packets_captured: 10, flows_discarded: 1 });
      expect(h.flows).toEqual([]);
      expect(v5).toEqual([]);

      // Graceful this time: the flow is delivered, and exported (flushed at the end of the session).
      await h.controller.start({ filter_expr: 'udp port 9999' }, 'test');
      send(7);
      await waitFor('7 packets', () => h.controller.metrics().packets_captured >= 7);
      await h.controller.stop({ graceful: true }, 'test');
      expect(h.flows.map((f) => [f.packets, f.bytes, f.end_reason])).toEqual([
        [7, 7 * 128, 'end_of_capture'],
      ]);
      await waitFor('the NetFlow datagram', () => v5.length > 0);
      const [datagram] = v5;
      expect(datagram!.readUInt16BE(0)).toBe(5);
      expect(datagram!.readUInt16BE(2)).toBe(1);
      // The v5 record: source address, destination port, packets and octets.
      const record = datagram!.subarray(24, 72);
      expect([...record.subarray(0, 4)].join('.')).toBe(addrB);
      expect(record.readUInt16BE(34)).toBe(9999);
      expect(record.readUInt32BE(16)).toBe(7);
      expect(record.readUInt32BE(20)).toBe(7 * 128);
    } finally {
      collector.close();
    }
  });

  it('an interface that goes away ends the session: capture_failed, and its flows are delivered', async () => {
    const gone = `wcx${id}`;
    const peer = `wcy${id}`;
    ip('link', 'add', gone, 'type', 'veth', 'peer', 'name', peer);
    try {
      ip('link', 'set', gone, 'up');
      ip('link', 'set', peer, 'up');
      const h = harness({ interface: gone });
      await h.controller.start({ filter_expr: 'udp port 7777' }, 'test');
      // Five Ethernet/IPv4/UDP frames written straight onto the peer end.
      const frames = `
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); sock.bind((sys.argv[1], 0))
for i in range(5):
    udp = struct.pack('!HHHH', 40000, 7777, 8 + 32, 0) + bytes(32)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 60, i, 0, 64, 17, 0, socket.inet_aton('192.0.2.7'), socket.inet_aton('192.0.2.8'))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    sock.send(bytes.fromhex('ffffffffffff' '020000000007' '0800') + ip + udp)
`;
      execFileSync('python3', ['-c', frames, peer]);
      await waitFor('5 packets', () => h.controller.metrics().packets_captured >= 5);
      ip('link', 'del', gone);
      const failed = await waitFor('capture_failed', () =>
        h.events.find((e) => e.type === 'capture_failed'),
      );
      expect(failed).toMatchObject({ severity: 'critical' });
      expect(failed.details).toMatchObject({ reason: 'capture_failed', interface: gone });
      expect(h.controller.status().running).toBe(false);
      await waitFor('the flow', () => h.flows.length > 0);
      expect(h.flows.map((f) => [f.src_ip, f.dst_port, f.packets, f.end_reason])).toEqual([
        ['192.0.2.7', 7777, 5, 'end_of_capture'],
      ]);
      expect(h.controller.metrics()).toMatchObject({ running: false, packets_captured: 5 });
    } finally {
      try {
        ip('link', 'del', gone);
      } catch {
        // already gone (the point of the test)
      }
    }
  });

  it('refuses to listen beyond loopback unless allowed', async () => {
    const app = createControlApp({
      controller: harness({}).controller,
      token: TOKEN,
      logger: createAgentLogger({ write() {} }),
    });
    await expect(startControlServer({ app, listen: `${addrA}:0` })).rejects.toThrow(
      /not loopback: refused/,
    );
    server = await startControlServer({ app, listen: `${addrA}:0`, allowRemote: true });
    expect(server.url).toMatch(new RegExp(`^http://${addrA.replaceAll('.', '\\.')}:\\d+$`));
  });
});
