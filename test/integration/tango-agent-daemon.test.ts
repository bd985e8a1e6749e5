import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tangoConfigSchema } from '../../agent/config/tango-schema.js';
import { silentAgentLogger } from '../../agent/log.js';
import { type RunningTango, startTango } from '../../agent/tango/setup.js';
import {
  buildTopology,
  destroyTopology,
  HOST2_ADDRESS,
  planTopology,
  SITE2_PREFIX,
  type SimulatedTopology,
  TANGO1_LAN_ADDRESS,
  TANGO2_LAN_ADDRESS,
} from '../../agent/tango/simulate.js';
import { ImpairmentRelay } from '../../native/tango-relay.js';
import { eventually, registerAgent } from '../helpers/agent-process.js';
import { writePcap } from '../helpers/capture-gen.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { tangoSectionFor } from '../helpers/tango-config.js';
import { type EchoServer, startEchoServer, udpRoundTrips } from '../helpers/tango-topology.js';

// The whole way, with the agent as users run it: `wirefleet agent run` (a real process, root)
// inside site 1's router namespace, its config's tango section starting the node there; site 2's
// node started in its own namespace by the test (startTango, as the agent would); two paths
// through the impairment relay (5 ms each way). The agent reaches the local stack's broker
// through a veth into the root namespace (a TCP relay to the broker on loopback). Host traffic
// crosses the tunnel both ways, the agent publishes its paths over MQTT, the API serves them,
// and SIGTERM takes the node down cleanly (the TUN and its routes go with it).

const isRoot = process.getuid?.() === 0;
const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const AGENT = `tango-${randomBytes(3).toString('hex')}`;

let topology: SimulatedTopology;
let dir: string;
let stack: TestStack;
let brokerRelay: net.Server | undefined;
let uplinkIf: string;
let agent: ChildProcess | undefined;
let agentOutput = '';
let siteB: RunningTango | undefined;
let echo: EchoServer | undefined;
let clockPeer: ChildProcess | undefined;
let controlTokenFile: string;
const relays: ImpairmentRelay[] = [];

/** Forwards TCP from `host:0` to the broker on loopback; returns the port. */
async function relayBroker(host: string, brokerPort: number): Promise<number> {
  brokerRelay = net.createServer((client) => {
    const upstream = net.connect(brokerPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => brokerRelay!.listen(0, host, resolve));
  return (brokerRelay.address() as net.AddressInfo).port;
}

describe.skipIf(!isRoot)('a Tango node run by the agent process, end to end', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-daemon-'));
    topology = planTopology(2);
    buildTopology(topology);
    const { tango1, tango2, relay } = topology.namespaces;
    for (const p of topology.paths) {
      relays.push(
        ImpairmentRelay.start({
          netns: relay,
          interfaceA: p.relayA,
          interfaceB: p.relayB,
          aToB: { delayMs: 5 },
          bToA: { delayMs: 5 },
        }),
      );
    }
    // Site 1's router reaches the broker in the root namespace.
    const octet = 1 + Math.floor(Math.random() * 250);
    uplinkIf = `wtu${topology.id}`;
    ip('link', 'add', uplinkIf, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', tango1);
    ip('addr', 'add', `10.254.${octet}.1/30`, 'dev', uplinkIf);
    ip('link', 'set', uplinkIf, 'up');
    ip('-n', tango1, 'addr', 'add', `10.254.${octet}.2/30`, 'dev', 'uplink');
    ip('-n', tango1, 'link', 'set', 'uplink', 'up');

    stack = await startTestStack({ mqttPort: 0 });
    const brokerPort = Number(new URL(stack.mqttUrl).port);
    const relayPort = await relayBroker(`10.254.${octet}.1`, brokerPort);

    const secretFile = path.join(dir, 'pair.secret');
    writeFileSync(secretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const replay = path.join(dir, 'idle.pcap');
    writeFileSync(replay, writePcap([]));
    const tangoOf = (side: 0 | 1) =>
      tangoSectionFor(topology, side, secretFile, {
        control_address: side === 0 ? TANGO1_LAN_ADDRESS : TANGO2_LAN_ADDRESS,
        peer: {
          agent_id: side === 0 ? 'site-b' : AGENT,
          control_address: side === 0 ? TANGO2_LAN_ADDRESS : TANGO1_LAN_ADDRESS,
        },
        classes: [{ class_id: 1, protocol: 'udp', dst_ports: [5001, 5001], path: 0 }],
      });
    const { configPath, config } = await registerAgent({
      apiUrl: stack.apiUrl,
      token: stack.token,
      id: AGENT,
      dir,
      file: replay,
      mqttUrl: `mqtt://10.254.${octet}.1:${relayPort}`,
      passwordLogin: true,
      patch: {
        capture: { autostart: false },
        heartbeat: { interval_sec: 1, metrics_interval_sec: 1 },
        tango: tangoOf(0),
      },
    });
    controlTokenFile = String(config.control!.token_file);
    agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        tango1,
        process.execPath,
        path.resolve('bin/wirefleet.js'),
        'agent',
        'run',
        '--config',
        configPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    agent.stdout!.on('data', (c: Buffer) => (agentOutput += c.toString()));
    agent.stderr!.on('data', (c: Buffer) => (agentOutput += c.toString()));
    await eventually(
      async () => (agentOutput.includes('tango node started') ? true : undefined),
      'the agent’s Tango node',
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${agentOutput}`);
    });
    // Site 2's node runs in this process, where no socket can bind in its namespace: its end
    // of clock sync runs as a child there instead.
    const { control_address: _, ...siteBConfig } = tangoOf(1);
    siteB = await startTango({
      config: {
        tango: tangoConfigSchema.parse({
          ...siteBConfig,
          peer: { agent_id: AGENT },
        }),
      },
      logger: silentAgentLogger,
      publish: () => undefined,
      netns: tango2,
    });
    echo = await startEchoServer(topology.namespaces.host2, [5001, 7000]);
    clockPeer = spawn(
      'ip',
      [
        'netns',
        'exec',
        tango2,
        process.execPath,
        '--import',
        'tsx',
        path.resolve('test/helpers/clock-sync-peer.ts'),
        TANGO2_LAN_ADDRESS,
        TANGO1_LAN_ADDRESS,
        '61043',
        '0',
      ],
      { stdio: 'ignore' },
    );
  }, 120_000);

  afterAll(async () => {
    echo?.stop();
    clockPeer?.kill();
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    await siteB?.stop();
    for (const r of relays) r.stop();
    brokerRelay?.close();
    await stack?.stop();
    try {
      ip('link', 'del', uplinkIf);
    } catch {
      // went with the namespace
    }
    if (topology) destroyTopology(topology);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('carries host traffic both ways between the sites', () => {
    const payloads = [randomBytes(64), randomBytes(900), randomBytes(1300)];
    for (const port of [5001, 7000]) {
      const echoes = udpRoundTrips(
        topology.namespaces.host1,
        HOST2_ADDRESS,
        port,
        40_000 + (port % 1000),
        payloads,
      );
      expect(echoes).toEqual(payloads.map((p) => p.toString('hex')));
    }
  });

  it('publishes its paths over MQTT, and the API serves them', async () => {
    const body = await eventually(
      async () => {
        const res = await stack.api(`/api/v1/agents/${AGENT}/paths`);
        const json = (await res.json()) as { paths: Array<Record<string, any>>; peer: unknown };
        return json.paths.length === 2 && json.paths.every((p) => p.packets > 0) ? json : undefined;
      },
      'both paths measured in the API',
      30_000,
    ).catch(async (error: Error) => {
      const res = await stack.api(`/api/v1/agents/${AGENT}/paths`);
      const a = await stack.api(`/api/v1/agents/${AGENT}`);
      throw new Error(
        `${error.message}\nAPI: ${await res.text()}\nAGENT: ${await a.text()}\nagent: ${agentOutput.slice(-6000)}`,
      );
    });
    expect(body.peer).toEqual({ agent_id: 'site-b' });
    expect(body.paths.map((p) => [p.path_id, p.peer_rloc, p.stale])).toEqual([
      [0, '192.0.2.10', false],
      [1, '192.0.2.11', false],
    ]);
    for (const p of body.paths) {
      // 5 ms through the relay; clock sync finds the (shared) clocks equal.
      expect(p.delay_ms).toBeGreaterThan(4);
      expect(p.delay_ms).toBeLessThan(30);
    }
  });

  it('answers GET /tango/status on its control API: counters, class paths, clock, paths', async () => {
    const url = /"msg":"control API listening","url":"([^"]+)"/.exec(agentOutput)![1];
    const token = readFileSync(controlTokenFile, 'utf8').trim();
    // The control API listens on loopback inside the agent's namespace.
    const get = `fetch(process.argv[1], { headers: { authorization: 'Bearer ' + process.argv[2] } })
      .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.json() })))`;
    const status = await eventually(async () => {
      const out = JSON.parse(
        ip(
          'netns',
          'exec',
          topology.namespaces.tango1,
          process.execPath,
          '-e',
          get,
          `${url}/tango/status`,
          token,
        ),
      ) as { status: number; body: Record<string, any> };
      return out.body.clock ? out : undefined;
    }, 'a clock estimate in the node status');
    expect(status.status).toBe(200);
    expect(status.body.requested).toEqual({ 1: 0 });
    expect(status.body.forwarder.running).toBe(true);
    expect(status.body.forwarder.tunRx).toBeGreaterThan(0);
    expect(status.body.paths.map((p: { pathId: number }) => p.pathId)).toEqual([0, 1]);
    // Both namespaces read one clock: the estimate is 0 within Date.now()'s millisecond.
    expect(Math.abs(status.body.clock.offsetMs)).toBeLessThanOrEqual(1);
    expect(status.body.clock.rttMs).toBeGreaterThanOrEqual(9);
  });

  it('stops on SIGTERM with exit 0, taking the TUN and its routes with it', async () => {
    const exited = new Promise<number | null>((resolve) =>
      agent!.once('exit', (code) => resolve(code)),
    );
    agent!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(agentOutput).toContain('agent stopped');
    expect(() => ip('-n', topology.namespaces.tango1, 'link', 'show', 'tango0')).toThrow();
    expect(ip('-n', topology.namespaces.tango1, 'route', 'show', SITE2_PREFIX)).toBe('');
  });
});
