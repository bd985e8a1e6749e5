import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestDeps } from '../../functions/ingest/index.js';
import { DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { ADDON_PATH } from '../../native/index.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import {
  eventually,
  registerAgent,
  startAgentProcess,
  wirefleet,
} from '../helpers/agent-process.js';
import { alignFlows, writePcap } from '../helpers/capture-gen.js';
import {
  everythingScenario,
  manyFlowsScenario,
  SHORT_TIMEOUTS,
} from '../helpers/capture-scenarios.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { freePort, type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';

// Real processes end to end: `wirefleet agent register` and `wirefleet agent run` as child
// processes, aedes (in the local stack) and mosquitto as brokers, the ingest subscriber, dynalite,
// and the API read back over HTTP. Ground truth comes from the capture generator's own model.

const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-agent-e2e-'));
const everything = everythingScenario();
const everythingFile = path.join(work, 'everything.pcap');
writeFileSync(everythingFile, writePcap(everything.frames));

/** The agent meters with the scenario's timeouts so the ground truth applies. */
const meterPatch = {
  flows: {
    idle_timeout_sec: SHORT_TIMEOUTS.idleTimeoutS,
    active_timeout_sec: SHORT_TIMEOUTS.activeTimeoutS,
    summary_interval_sec: 1,
  },
  heartbeat: { interval_sec: 1, metrics_interval_sec: 1 },
};

type ApiFlow = Record<string, unknown> & { record_id: string; agent_id: string };

async function flowsOf(stack: TestStack, agentId: string): Promise<ApiFlow[]> {
  const response = await stack.api(`/api/v1/flows?agent_id=${agentId}&limit=1000`);
  expect(response.status).toBe(200);
  return (await response.json()) as ApiFlow[];
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('agent → aedes → ingest → store → API', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ mqttPort: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('delivers exactly the ground-truth flows of a replayed capture, and answers commands', async () => {
    const controlPort = await freePort();
    const { configPath, config } = await registerAgent({
      apiUrl: stack.apiUrl,
      token: stack.token,
      id: 'e2e-aedes',
      dir: work,
      file: everythingFile,
      patch: { ...meterPatch, control: { listen: `127.0.0.1:${controlPort}` } },
    });
    // The default registration: a certificate from the local CA, mTLS to aedes.
    expect((config.mqtt as { url: string }).url).toBe(stack.mqttsUrl);
    const agent = startAgentProcess(configPath);
    try {
      const expected = everything.flows.length;
      const flows = await eventually(async () => {
        const rows = await flowsOf(stack, 'e2e-aedes');
        return rows.length >= expected ? rows : undefined;
      }, `${expected} flows of e2e-aedes`);
      const { actual, expected: truth } = alignFlows(flows, everything.flows);
      expect(actual).toEqual(truth);
      expect(new Set(flows.map((f) => f.record_id)).size).toBe(flows.length);

      // Heartbeats make it online; metrics arrive.
      const detail = await eventually(async () => {
        const body = (await (await stack.api('/api/v1/agents/e2e-aedes')).json()) as {
          status: string;
          metrics: unknown;
        };
        return body.status === 'online' && body.metrics ? body : undefined;
      }, 'the agent online with metrics');
      expect(detail.status).toBe('online');

      // Events and the metrics history are kept per agent, newest first.
      const { events } = (await (await stack.api('/api/v1/agents/e2e-aedes/events')).json()) as {
        events: { type: string; agent_id: string }[];
      };
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['agent_started', 'capture_started']),
      );
      const { metrics } = (await (
        await stack.api('/api/v1/agents/e2e-aedes/metrics?limit=5')
      ).json()) as { metrics: { sent_at: number; flows: { emitted: number } }[] };
      expect(metrics.length).toBeGreaterThan(0);
      expect(metrics.length).toBeLessThanOrEqual(5);
      const times = metrics.map((m) => m.sent_at);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect((await stack.api('/api/v1/agents/e2e-aedes/metrics?limit=0')).status).toBe(400);
      expect((await stack.api('/api/v1/agents/nobody/events')).status).toBe(404);

      // The operator's view through the control API.
      const { stdout } = await wirefleet(['agent', 'status', '--config', configPath]);
      const local = JSON.parse(stdout) as {
        agent_id: string;
        status: { backend: string };
        metrics: { total_flows: number };
      };
      expect(local.agent_id).toBe('e2e-aedes');
      expect(local.status.backend).toBe('file');
      expect(local.metrics.total_flows).toBe(everything.flows.length);

      // A command goes down over MQTT and its reply comes back up.
      const sent = await stack.api('/api/v1/agents/e2e-aedes/commands', {
        method: 'POST',
        json: { action: 'status' },
      });
      expect(sent.status).toBe(202);
      const { command_id } = (await sent.json()) as { command_id: string };
      const answered = await eventually(async () => {
        const body = (await (
          await stack.api(`/api/v1/agents/e2e-aedes/commands/${command_id}`)
        ).json()) as { status: string; reply: { result?: Record<string, unknown> } | null };
        return body.status === 'pending' ? undefined : body;
      }, 'the status command reply');
      expect(answered.status).toBe('ok');
      expect(answered.reply?.result).toHaveProperty('running');
    } finally {
      const { code } = await agent.stop();
      expect(code, agent.output().slice(-2000)).toBe(0);
    }

    // A command sent while the agent is away waits in its persistent session at the broker.
    const queued = await stack.api('/api/v1/agents/e2e-aedes/commands', {
      method: 'POST',
      json: { action: 'status' },
    });
    expect(queued.status).toBe(202);
    const { command_id: queuedId } = (await queued.json()) as { command_id: string };
    const again = startAgentProcess(configPath);
    try {
      const late = await eventually(async () => {
        const body = (await (
          await stack.api(`/api/v1/agents/e2e-aedes/commands/${queuedId}`)
        ).json()) as { status: string };
        return body.status === 'pending' ? undefined : body;
      }, 'the reply to a command queued while the agent was away');
      expect(late.status).toBe('ok');
    } finally {
      expect((await again.stop()).code, again.output().slice(-2000)).toBe(0);
    }
  });

  it('refuses an agent publishing under another id, and ignores a forged tenant', async () => {
    const a = await stack.api('/api/v1/agents', { method: 'POST', json: { agent_id: 'e2e-a' } });
    const b = await stack.api('/api/v1/agents', { method: 'POST', json: { agent_id: 'e2e-b' } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    const credsA = ((await a.json()) as { mqtt: { password: string } }).mqtt;
    const record = (id: string) => ({
      record_id: id.padEnd(32, '0'),
      flow_id: '1',
      ip_version: 4,
      src_ip: '10.9.0.1',
      dst_ip: '10.9.0.2',
      src_port: 1000,
      dst_port: 2000,
      protocol: 17,
      vlan_id: 0,
      packets: 2,
      bytes: 100,
      packets_fwd: 1,
      packets_rev: 1,
      bytes_fwd: 50,
      bytes_rev: 50,
      first_seen: Date.now() / 1000 - 5,
      last_seen: Date.now() / 1000 - 4,
      duration_sec: 1,
      tcp_flags: '',
      state: 'CLOSED',
      end_reason: 'idle',
    });
    const batch = (id: string) =>
      JSON.stringify({
        schema: 'wirefleet.flows/1',
        batch_id: `batch-${id}`,
        sent_at: Date.now() / 1000,
        records: [record(id)],
        tenant: 'someone-else',
        agent_id: 'e2e-b',
      });

    // Client id must equal the agent id.
    await expect(
      mqtt.connectAsync(stack.mqttUrl, {
        clientId: 'not-e2e-a',
        username: 'e2e-a',
        password: credsA.password,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      }),
    ).rejects.toThrow();

    const client = await mqtt.connectAsync(stack.mqttUrl, {
      clientId: 'e2e-a',
      username: 'e2e-a',
      password: credsA.password,
      reconnectPeriod: 0,
    });
    // Its own topic, with a forged tenant and agent id in the payload: stored as e2e-a, default tenant.
    await client.publishAsync(agentTopic('e2e-a', 'flows'), batch('aaaa'), { qos: 1 });
    const own = await eventually(async () => {
      const rows = await flowsOf(stack, 'e2e-a');
      return rows.length > 0 ? rows : undefined;
    }, 'the forged batch under e2e-a');
    expect(own.map((f) => f.agent_id)).toEqual(['e2e-a']);

    // Another agent's topic: aedes refuses the publish and drops the connection.
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(agentTopic('e2e-b', 'flows'), batch('bbbb'), { qos: 1 });
    await closed;
    client.end(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await flowsOf(stack, 'e2e-b')).toEqual([]);
  });
});

describe('agent → mosquitto → ingest: broker outage and kill -9 lose nothing, duplicate nothing', () => {
  let mosquitto: Mosquitto;
  let stack: TestStack;
  const ingestPassword = 'ingest-secret-for-this-test';
  const manyFile = path.join(work, 'many.pcap');
  const many = manyFlowsScenario(3000);
  let configs: Record<string, string>;

  beforeAll(async () => {
    // The stack's ingest subscriber logs in to mosquitto as "ingest" (see the helper's ACL).
    mosquitto = await startMosquitto({ users: { ingest: ingestPassword }, persistence: true });
    stack = await startTestStack({
      mqttUrl: mosquitto.url,
      mqttUsername: 'ingest',
      mqttPassword: ingestPassword,
    });
    writeFileSync(manyFile, writePcap(many.frames));
    configs = await registerWithMosquitto([
      { id: 'e2e-mosq-gt', file: everythingFile, patch: meterPatch },
      {
        id: 'e2e-mosq',
        file: manyFile,
        patch: {
          flows: { batch_max_records: 20, summary_interval_sec: 1 },
          mqtt: { reconnect_min_ms: 100, reconnect_max_ms: 1000 },
        },
      },
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    await mosquitto?.stop();
  });

  /** Registers through the API, then restarts mosquitto on the same port knowing the agents. */
  async function registerWithMosquitto(
    agents: { id: string; file: string; patch: Record<string, Record<string, unknown>> }[],
  ): Promise<Record<string, string>> {
    const users: Record<string, string> = { ingest: ingestPassword };
    const configs: Record<string, string> = {};
    for (const agent of agents) {
      const { configPath } = await registerAgent({
        apiUrl: stack.apiUrl,
        token: stack.token,
        id: agent.id,
        dir: work,
        file: agent.file,
        mqttUrl: mosquitto.url,
        passwordLogin: true,
        patch: agent.patch,
      });
      configs[agent.id] = configPath;
      users[agent.id] = readFileSync(
        path.join(work, `${agent.id}-state`, 'mqtt-password'),
        'utf8',
      ).trim();
    }
    await mosquitto.stop();
    mosquitto = await startMosquitto({ users, persistence: true, port: mosquitto.port });
    // A new broker has no session for the ingest subscriber: wait until it has subscribed again.
    await eventually(
      async () => (stack.ingest.stats().subscribed ? true : undefined),
      'the ingest subscriber to resubscribe',
    );
    return configs;
  }

  it('delivers exactly the ground-truth flows through mosquitto', async () => {
    const agent = startAgentProcess(configs['e2e-mosq-gt']!);
    try {
      const flows = await eventually(async () => {
        const rows = await flowsOf(stack, 'e2e-mosq-gt');
        return rows.length >= everything.flows.length ? rows : undefined;
      }, 'the ground-truth flows through mosquitto');
      const { actual, expected } = alignFlows(flows, everything.flows);
      expect(actual).toEqual(expected);
    } finally {
      expect((await agent.stop()).code, agent.output().slice(-2000)).toBe(0);
    }
  });

  it('every record arrives exactly once after an outage and two kill -9s', async () => {
    const scenario = many;
    const id = 'e2e-mosq';
    const configPath = configs[id]!;
    const deps = createIngestDeps(stack.config);
    const stored = () => deps.flows.count(DEFAULT_TENANT, id);
    const spoolDir = path.join(work, `${id}-state`, 'spool', 'entries');

    // 1. The broker is down: the agent meters and spools everything, then dies by SIGKILL.
    await mosquitto.kill();
    let agent = startAgentProcess(configPath);
    await eventually(async () => {
      const { readdirSync } = await import('node:fs');
      return existsSync(spoolDir) && readdirSync(spoolDir).length >= 150 ? true : undefined;
    }, 'the spool to fill while the broker is down');
    await agent.kill9();
    expect(await stored()).toBe(0);

    // 2. The broker is back: a new agent publishes the spool (and meters the file again: same
    //    record ids). Kill it again part-way through.
    await mosquitto.restart();
    agent = startAgentProcess(configPath);
    await eventually(async () => ((await stored()) > 0 ? true : undefined), 'some records stored');
    await agent.kill9();
    const partial = await stored();

    // 3. A third run finishes the job.
    agent = startAgentProcess(configPath);
    const total = scenario.flows.length;
    await eventually(
      async () => ((await stored()) >= total ? true : undefined),
      `${total} records stored (had ${partial} after the second kill)`,
      120_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { code } = await agent.stop();
    expect(code, agent.output().slice(-2000)).toBe(0);
    // Exactly once: the store holds one item per record, however often it was delivered.
    expect(await stored()).toBe(total);
    deps.clients.doc.destroy();
  });
});

describe('native engine signature', () => {
  it('a flipped byte in the addon makes the agent refuse to start', async () => {
    const dir = mkdtempSync(path.join(work, 'addon-'));
    const copy = path.join(dir, 'wirefleet_engine.node');
    copyFileSync(ADDON_PATH, copy);
    copyFileSync(`${ADDON_PATH}.sig`, `${copy}.sig`);
    const bytes = readFileSync(copy);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(copy, bytes);
    const configPath = path.join(dir, 'agent.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        agent_id: 'e2e-sig',
        mqtt: { url: 'mqtt://127.0.0.1:9' },
        capture: { file: everythingFile },
        spool: { dir: path.join(dir, 'spool') },
        control: { enabled: false },
        integrity: {
          public_key_file: path.join(path.dirname(ADDON_PATH), 'addon-signing.pub'),
        },
      }),
      { mode: 0o600 },
    );
    const refused = startAgentProcess(configPath, { WIREFLEET_ADDON_PATH: copy });
    const { code } = await refused.exited;
    expect(code).toBe(3);
    expect(refused.output()).toMatch(/signature|invalid/i);

    // The untouched addon starts (and is stopped at once).
    const fine = startAgentProcess(configPath);
    await eventually(
      async () => (/agent_started/.test(fine.output()) ? true : undefined),
      'the agent to start with the signed addon',
    );
    expect((await fine.stop()).code).toBe(0);
  });

  it('`wirefleet agent run` without --config is a usage error', async () => {
    await expect(wirefleet(['agent', 'run'])).rejects.toMatchObject({ code: 2 });
  });
});
