import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigError, loadAgentConfig } from '../../agent/config.js';
import { type AgentLogger, createAgentLogger } from '../../agent/log.js';
import { DiskSpool } from '../../agent/spool.js';
import { uplinkOptionsFromConfig } from '../../agent/uplink/options.js';
import { Uplink, type UplinkOptions } from '../../agent/uplink.js';
import { agentTopic, flowBatchSchema } from '../../protocol/agent-messages.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { sampleFlows, spoolFlows, waitFor } from '../helpers/sample-flows.js';
import { type CertFiles, createTestPki, type TestPki } from '../helpers/tls-certs.js';

/**
 * The uplink over mqtts:// with client certificates, against a real mosquitto
 * whose TLS listener requires a certificate from the test CA and takes its CN
 * as the username, so the per-agent ACL binds an agent to its certificate. The
 * observing `ingest` subscriber uses the password listener of the same broker.
 */

const FAST = { reconnectMinMs: 20, reconnectMaxMs: 200, keepaliveSec: 5 } as const;
const INGEST_PASSWORD = 'pw-ingest';

/** What the ingest user sees: flow records by agent topic, and everything else. */
class Observer {
  /** agent id (from the topic) → distinct record ids → times seen. */
  readonly flows = new Map<string, Map<string, number>>();
  /** agent id → flow batches received. */
  readonly batches = new Map<string, number>();
  readonly other: Array<{ topic: string; payload: string }> = [];

  handle = (topic: string, payload: Buffer) => {
    const m = /^wirefleet\/v1\/agents\/([^/]+)\/flows$/.exec(topic);
    if (!m) {
      this.other.push({ topic, payload: payload.toString() });
      return;
    }
    const seen = this.flows.get(m[1]!) ?? new Map<string, number>();
    this.flows.set(m[1]!, seen);
    this.batches.set(m[1]!, (this.batches.get(m[1]!) ?? 0) + 1);
    const batch = flowBatchSchema.parse(JSON.parse(payload.toString()));
    for (const r of batch.records) seen.set(r.record_id, (seen.get(r.record_id) ?? 0) + 1);
  };

  distinct(agentId: string) {
    return this.flows.get(agentId)?.size ?? 0;
  }
  duplicates(agentId: string) {
    let n = 0;
    for (const c of this.flows.get(agentId)?.values() ?? []) n += c - 1;
    return n;
  }
}

async function endClient(client: MqttClient) {
  await new Promise<void>((resolve) => client.end(true, () => resolve()));
}

let pki: TestPki;
let mosquitto: Mosquitto & { tlsUrl: string };
let tmp: string;
let ingest: MqttClient;
const observer = new Observer();
const cleanups: Array<() => Promise<unknown>> = [];

/** The ca/cert/key options for a client certificate, as Buffers (what the config loader yields). */
async function tlsOptions(files: CertFiles) {
  return {
    ca: await readFile(pki.ca.cert),
    cert: await readFile(files.cert),
    key: await readFile(files.key),
  };
}

async function openSpool(name: string) {
  return DiskSpool.open({ dir: path.join(tmp, name), maxBytes: 64 * 1024 * 1024 });
}

function makeUplink(spool: DiskSpool, options: Partial<UplinkOptions> & { agentId: string }) {
  const lines: string[] = [];
  const logger: AgentLogger = createAgentLogger({ level: 'debug', write: (l) => lines.push(l) });
  const uplink = new Uplink(spool, { url: mosquitto.tlsUrl, logger, ...FAST, ...options });
  cleanups.push(() => uplink.stop({ drainMs: 0 }));
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { uplink, logged };
}

beforeAll(async () => {
  pki = await createTestPki();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-mtls-'));
  mosquitto = await startMosquitto({
    users: { ingest: INGEST_PASSWORD },
    tls: { cafile: pki.ca.cert, certfile: pki.server.cert, keyfile: pki.server.key },
  });
  ingest = connect(mosquitto.url, {
    username: 'ingest',
    password: INGEST_PASSWORD,
    reconnectPeriod: 100,
  });
  ingest.on('message', observer.handle);
  ingest.on('error', () => {});
  await new Promise<void>((resolve) => ingest.once('connect', () => resolve()));
  await ingest.subscribeAsync('wirefleet/v1/agents/+/#', { qos: 1 });
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  if (ingest) await endClient(ingest);
  await mosquitto?.stop();
  await pki?.remove();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('uplink over mqtts:// with client certificates (real mosquitto)', () => {
  it('an agent whose certificate CN is its id delivers every record, and gets its commands', async () => {
    const agentId = 'edge-a';
    const spool = await openSpool('good');
    const total = await spoolFlows(spool, agentId, sampleFlows(2000), 200);
    const { uplink } = makeUplink(spool, {
      agentId,
      ...(await tlsOptions(await pki.client(agentId))),
    });
    const commands: string[] = [];
    uplink.onCommand((p) => commands.push(p.toString()));
    uplink.start();
    await waitFor('all records', () => observer.distinct(agentId) === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(observer.duplicates(agentId)).toBe(0);
    expect(uplink.stats()).toMatchObject({
      connected: true,
      published: 10,
      acked: 10,
      reconnects: 0,
      rejected: 0,
    });

    // The ACL's read pattern also applies to the CN: the agent receives its own commands.
    for (let i = 0; i < 50 && commands.length === 0; i++) {
      await ingest.publishAsync(agentTopic(agentId, 'commands'), `{"n":${i}}`, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(commands[0]).toBe('{"n":0}');
  });

  it('a certificate from another CA, or none, never connects and nothing is delivered', async () => {
    const agentId = 'edge-rogue';
    for (const [name, files] of [
      ['rogue-ca', await pki.rogueClient(agentId)],
      ['no-cert', undefined],
    ] as const) {
      const spool = await openSpool(name);
      await spoolFlows(spool, agentId, sampleFlows(100), 50);
      const tls = files
        ? await tlsOptions(files)
        : { ca: await readFile(pki.ca.cert), cert: null, key: null };
      const { uplink, logged } = makeUplink(spool, { agentId, ...tls });
      uplink.start();
      await waitFor(`${name}: retries`, () => uplink.stats().reconnects >= 3);
      expect(uplink.stats(), name).toMatchObject({ connected: false, published: 0, acked: 0 });
      expect(spool.stats().depth_batches, name).toBe(2);
      const errors = logged().filter((l) => l.msg === 'uplink: MQTT error');
      expect(errors.length, name).toBeGreaterThan(0);
      // The broker's TLS alert: it does not know the issuer, or wanted a certificate.
      expect(String(errors[0]!.error), name).toMatch(files ? /unknown ca/ : /certificate required/);
      await uplink.stop({ drainMs: 0 });
    }
    expect(observer.distinct(agentId)).toBe(0);
    expect(observer.other.filter((m) => m.topic.includes(`/${agentId}/`))).toEqual([]);
  });

  it('a valid certificate for edge-a cannot publish under edge-b (ACL on the certificate identity)', async () => {
    // The uplink says it is edge-b (client id and topics), and even sends the username edge-b;
    // the broker only believes the certificate.
    const edgeA = await tlsOptions(await pki.client('edge-a'));
    const forged = await openSpool('forged');
    const forgedTotal = await spoolFlows(forged, 'edge-b', sampleFlows(300), 100);
    const { uplink: impostor } = makeUplink(forged, {
      agentId: 'edge-b',
      username: 'edge-b',
      ...edgeA,
    });
    impostor.start();
    // MQTT 3.1.1 (the daemon's default): mosquitto acknowledges a denied publish and drops it.
    await waitFor('forged batches acknowledged', () => forged.stats().depth_batches === 0);
    expect(impostor.stats()).toMatchObject({ connected: true, acked: 3, rejected: 0 });
    await impostor.stop({ drainMs: 0 });

    // The same certificate under its own id, published afterwards to the same subscriber:
    // once these arrive, the forged ones would have too.
    const own = await openSpool('own');
    await spoolFlows(own, 'edge-a', sampleFlows(300), 100);
    const { uplink: honest } = makeUplink(own, { agentId: 'edge-a', ...edgeA });
    const before = observer.batches.get('edge-a') ?? 0;
    honest.start();
    await waitFor('own batches', () => observer.batches.get('edge-a') === before + 3);
    expect(forgedTotal).toBe(300);
    expect(observer.distinct('edge-b')).toBe(0);
    expect(observer.other.filter((m) => m.topic.includes('/edge-b/'))).toEqual([]);

    // Over MQTT 5 the refusal is explicit: strikes, then the entries are parked.
    const forged5 = await openSpool('forged-v5');
    await spoolFlows(forged5, 'edge-b', sampleFlows(100), 50);
    const { uplink: impostor5, logged: logged5 } = makeUplink(forged5, {
      agentId: 'edge-b',
      ...edgeA,
      protocolVersion: 5,
      rejectAfter: 1,
    });
    impostor5.start();
    await waitFor('both parked', () => impostor5.stats().rejected === 2);
    expect(impostor5.stats().acked).toBe(0);
    const failures = logged5().filter((l) => l.msg === 'uplink: publish failed');
    expect(String(failures[0]!.reason)).toMatch(/Not authorized/);
    expect(observer.distinct('edge-b')).toBe(0);
  });

  it('config file → loadAgentConfig → Uplink: mqtts:// with ca_file, cert_file and key_file', async () => {
    const agentId = 'edge-c';
    const dir = path.join(tmp, 'etc');
    await mkdir(dir);
    const client = await pki.client(agentId);
    // Relative paths: they resolve against the config file's directory.
    await copyFile(pki.ca.cert, path.join(dir, 'ca.pem'));
    await copyFile(client.cert, path.join(dir, 'agent.crt'));
    await copyFile(client.key, path.join(dir, 'agent.key'));
    const configFile = path.join(dir, 'agent.json');
    await writeFile(
      configFile,
      `// written by agent-mtls.test.ts
{
  "agent_id": ${JSON.stringify(agentId)},
  "mqtt": {
    "url": ${JSON.stringify(mosquitto.tlsUrl)},
    "ca_file": "ca.pem",
    "cert_file": "agent.crt",
    "key_file": "agent.key", // mode 0600
    "keepalive_sec": 5,
    "reconnect_min_ms": 100,
    "reconnect_max_ms": 500
  },
  "capture": { "interface": "lo" },
  "spool": { "dir": "spool", "max_size_mb": 16 }
}
`,
    );

    // A key readable by others is refused at load, naming the field.
    await chmod(path.join(dir, 'agent.key'), 0o644);
    const refused = await loadAgentConfig(configFile).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AgentConfigError);
    expect((refused as AgentConfigError).field).toBe('mqtt.key_file');
    expect((refused as Error).message).toMatch(/chmod 600/);
    await chmod(path.join(dir, 'agent.key'), 0o600);

    const config = await loadAgentConfig(configFile);
    expect(config.mqtt.url).toBe(mosquitto.tlsUrl);
    expect(config.mqtt.ca?.equals(await readFile(pki.ca.cert))).toBe(true);
    expect(config.mqtt.cert?.equals(await readFile(client.cert))).toBe(true);
    expect(config.mqtt.key?.equals(await readFile(client.key))).toBe(true);
    expect(config.mqtt.password).toBeNull();

    // As agent/daemon.ts builds them (the same uplinkOptionsFromConfig).
    const spool = await DiskSpool.open({
      dir: config.spool.dir,
      maxBytes: config.spool.max_size_mb * 1024 * 1024,
    });
    expect(spool.dir).toBe(path.join(dir, 'spool'));
    const total = await spoolFlows(spool, config.agent_id, sampleFlows(500), 100);
    const lines: string[] = [];
    const uplink = new Uplink(
      spool,
      uplinkOptionsFromConfig(
        config,
        createAgentLogger({ level: 'debug', write: (l) => lines.push(l) }),
      ),
    );
    cleanups.push(() => uplink.stop({ drainMs: 0 }));
    uplink.start();
    await waitFor('all records', () => observer.distinct(agentId) === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(observer.duplicates(agentId)).toBe(0);
    expect(uplink.stats()).toMatchObject({ connected: true, acked: 5, reconnects: 0 });
    expect(lines.join('\n')).not.toContain('BEGIN');
  });
});
