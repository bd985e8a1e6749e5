import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Aedes, type AedesOptions } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packFlowBatches } from '../../agent/batcher.js';
import { type AgentLogger, createAgentLogger } from '../../agent/log.js';
import { DiskSpool } from '../../agent/spool.js';
import { Uplink, type UplinkOptions } from '../../agent/uplink.js';
import { agentTopic, flowBatchSchema } from '../../protocol/agent-messages.js';
import { freePort, type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { sampleFlows, spoolFlows, waitFor } from '../helpers/sample-flows.js';

/**
 * The uplink against real brokers: an in-process aedes (no auth) and a real
 * mosquitto with passwords and per-agent ACLs. The aedes broker listens on two
 * ports: the agent's, which tests close and reopen to simulate outages, and a
 * separate one for the observing subscriber, so it never misses a message.
 */

const AGENT = 'edge-01';
const FAST = { reconnectMinMs: 20, reconnectMaxMs: 200, keepaliveSec: 5 } as const;

/** Collects flow records seen on the broker: distinct ids and how often each came. */
class FlowCollector {
  readonly seen = new Map<string, number>();
  readonly other: Array<{ topic: string; payload: string }> = [];
  messages = 0;
  onMessage?: () => void;

  handle = (topic: string, payload: Buffer) => {
    if (!topic.endsWith('/flows')) {
      this.other.push({ topic, payload: payload.toString() });
      return;
    }
    this.messages += 1;
    const batch = flowBatchSchema.parse(JSON.parse(payload.toString()));
    for (const r of batch.records)
      this.seen.set(r.record_id, (this.seen.get(r.record_id) ?? 0) + 1);
    this.onMessage?.();
  };

  get distinct() {
    return this.seen.size;
  }
  get duplicates() {
    let n = 0;
    for (const c of this.seen.values()) n += c - 1;
    return n;
  }
}

async function subscribe(url: string, topic: string, extra: Record<string, unknown> = {}) {
  const client = connect(url, { reconnectPeriod: 100, ...extra });
  const collector = new FlowCollector();
  client.on('message', collector.handle);
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      client.subscribe(topic, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  });
  return { client, collector };
}

async function endClient(client: MqttClient) {
  await new Promise<void>((resolve) => client.end(true, () => resolve()));
}

/** aedes with a fixed agent port that can go down and come back. */
class TestBroker {
  broker!: Aedes;
  agentPort!: number;
  adminPort!: number;
  #admin?: net.Server;
  #agent?: net.Server;
  readonly #sockets = new Set<net.Socket>();

  static async start(options: AedesOptions = {}, agentUp = true): Promise<TestBroker> {
    const b = new TestBroker();
    b.broker = await Aedes.createBroker(options);
    b.agentPort = await freePort();
    b.#admin = net.createServer(b.broker.handle);
    await new Promise<void>((r) => b.#admin!.listen(0, '127.0.0.1', () => r()));
    b.adminPort = (b.#admin.address() as net.AddressInfo).port;
    if (agentUp) await b.up();
    return b;
  }

  get agentUrl() {
    return `mqtt://127.0.0.1:${this.agentPort}`;
  }
  get adminUrl() {
    return `mqtt://127.0.0.1:${this.adminPort}`;
  }

  async up() {
    const server = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      this.broker.handle(socket);
    });
    await new Promise<void>((r) => server.listen(this.agentPort, '127.0.0.1', () => r()));
    this.#agent = server;
  }

  /** Refuses new agent connections and resets the live ones, as a dead broker would. */
  async down() {
    const server = this.#agent;
    this.#agent = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  async close() {
    await this.down();
    for (const client of Object.values((this.broker as any).clients ?? {})) {
      (client as any).close?.();
    }
    await new Promise<void>((r) => this.#admin!.close(() => r()));
    await new Promise<void>((r) => this.broker.close(() => r()));
  }
}

/**
 * A TCP proxy that passes agent-to-broker bytes at `bytesPerSec`, as a slow
 * uplink would (the agent's socket sees backpressure, its writes queue up).
 */
async function slowLink(targetPort: number, bytesPerSec: number) {
  const server = net.createServer((agent) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.pipe(agent);
    const queue: Buffer[] = [];
    let queued = 0;
    let last = Date.now();
    agent.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued > 16 * 1024) agent.pause();
    });
    const timer = setInterval(() => {
      const now = Date.now();
      let budget = Math.floor(((now - last) * bytesPerSec) / 1000);
      last = now;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const n = Math.min(budget, head.length);
        upstream.write(head.subarray(0, n));
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
        budget -= n;
        queued -= n;
      }
      if (queued <= 16 * 1024) agent.resume();
    }, 20);
    const close = () => {
      clearInterval(timer);
      agent.destroy();
      upstream.destroy();
    };
    for (const s of [agent, upstream]) {
      s.on('close', close);
      s.on('error', () => {});
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let tmp: string;
const cleanups: Array<() => Promise<unknown>> = [];

async function openSpool(name = 'spool', maxBytes = 64 * 1024 * 1024) {
  return DiskSpool.open({ dir: path.join(tmp, name), maxBytes });
}

function makeUplink(spool: DiskSpool, options: Partial<UplinkOptions> & { url: string }) {
  const lines: string[] = [];
  const logger: AgentLogger = createAgentLogger({
    level: 'debug',
    write: (l) => lines.push(l),
  });
  const uplink = new Uplink(spool, { agentId: AGENT, logger, ...FAST, ...options });
  cleanups.push(() => uplink.stop({ drainMs: 0 }));
  return { uplink, lines };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-uplink-'));
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('uplink with aedes', () => {
  let broker: TestBroker;
  afterEach(async () => {
    await broker?.close();
  });

  it('delivers every spooled record exactly once and empties the spool', async () => {
    broker = await TestBroker.start();
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('happy');
    const total = await spoolFlows(spool, AGENT, sampleFlows(3000), 100);
    expect(spool.stats().depth_batches).toBe(30);

    const { uplink } = makeUplink(spool, { url: broker.agentUrl });
    uplink.start();
    await waitFor('all records', () => collector.distinct === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    await spool.flush();
    expect(collector.duplicates).toBe(0);
    expect(collector.messages).toBe(30);
    expect(await readdir(path.join(spool.dir, 'entries'))).toEqual([]);
    expect(uplink.stats()).toMatchObject({
      connected: true,
      published: 30,
      acked: 30,
      reconnects: 0,
      rejected: 0,
    });

    // New entries after start go out on notify().
    await spoolFlows(spool, AGENT, sampleFlows(50, 3000));
    uplink.notify();
    await waitFor('late records', () => collector.distinct === total + 50);
  });

  it('starts while the broker is down, keeps retrying, delivers everything once it is up', async () => {
    broker = await TestBroker.start({}, false);
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('late-broker');
    const { uplink, lines } = makeUplink(spool, { url: broker.agentUrl });
    uplink.start(); // must not throw
    const total = await spoolFlows(spool, AGENT, sampleFlows(1000), 100);
    uplink.notify();
    await waitFor('a few retries', () => uplink.stats().reconnects >= 3);
    expect(uplink.stats().connected).toBe(false);
    expect(spool.stats().depth_batches).toBe(10);
    // One warning for the outage, the retries at debug.
    const warnings = lines.filter((l) => JSON.parse(l).level === 'warn');
    expect(warnings.length).toBe(1);

    await broker.up();
    await waitFor('all records', () => collector.distinct === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(collector.duplicates).toBe(0);
    expect(uplink.stats().connected).toBe(true);
  });

  it('loses nothing when the broker dies mid-stream (twice) and comes back', async () => {
    broker = await TestBroker.start();
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('mid-stream');
    const total = await spoolFlows(spool, AGENT, sampleFlows(20_000), 100); // 200 batches
    const { uplink } = makeUplink(spool, { url: broker.agentUrl, maxInFlight: 20 });

    let outages = 0;
    const thresholds = [40, 120];
    collector.onMessage = () => {
      if (outages < thresholds.length && collector.messages >= thresholds[outages]!) {
        outages += 1;
        void broker.down().then(() => setTimeout(() => void broker.up(), 300));
      }
    };
    uplink.start();
    await waitFor('all records', () => collector.distinct === total, 40_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(outages).toBe(2);
    expect(uplink.stats().reconnects).toBeGreaterThanOrEqual(2);
    // Redelivery is allowed (lost PUBACKs), bounded by the in-flight window per outage.
    console.info(
      `mid-stream outages: ${total} records, ${collector.duplicates} redelivered, ` +
        `${uplink.stats().published} publishes for ${total / 100} batches`,
    );
    expect(collector.duplicates).toBeLessThanOrEqual(2 * 20 * 100);
  });

  it('delivers a command published to the agent commands topic to onCommand', async () => {
    broker = await TestBroker.start();
    const subscribed = new Promise<void>((resolve) => {
      broker.broker.on('subscribe', (subs, c) => {
        if (c?.id === AGENT && subs.some((s) => s.topic === agentTopic(AGENT, 'commands'))) {
          resolve();
        }
      });
    });
    const spool = await openSpool('commands');
    const { uplink } = makeUplink(spool, { url: broker.agentUrl });
    const got: string[] = [];
    uplink.onCommand((p) => got.push(p.toString()));
    let connectedEvents = 0;
    uplink.on('connected', () => {
      connectedEvents += 1;
    });
    uplink.start();
    await subscribed;
    const command = JSON.stringify({ command_id: 'c1', issued_at: 1, action: 'status' });
    const admin = connect(broker.adminUrl, { reconnectPeriod: 0 });
    cleanups.push(() => endClient(admin));
    await admin.publishAsync(agentTopic(AGENT, 'commands'), command, { qos: 1 });
    await waitFor('command', () => got.length === 1);
    expect(got).toEqual([command]);
    expect(connectedEvents).toBe(1);

    // publishNow: sent while connected, refused (false) once stopped.
    const seen: string[] = [];
    const { client } = await subscribe(broker.adminUrl, agentTopic(AGENT, 'heartbeat'));
    cleanups.push(() => endClient(client));
    client.on('message', (_t, p) => seen.push(p.toString()));
    expect(uplink.publishNow('heartbeat', Buffer.from('{"hb":1}'))).toBe(true);
    await waitFor('heartbeat', () => seen.length === 1);
    await uplink.stop({ drainMs: 100 });
    expect(uplink.publishNow('heartbeat', Buffer.from('{"hb":2}'))).toBe(false);
    expect(spool.stats().depth_batches).toBe(0);
  });

  it('parks an entry the broker keeps refusing and keeps delivering the rest', async () => {
    // aedes closes the connection when authorizePublish fails, as AWS IoT does.
    broker = await TestBroker.start({
      authorizePublish: (client, packet, callback) => {
        if (client && packet.payload.toString().includes('poison')) {
          callback(new Error('not authorised'));
          return;
        }
        callback(null);
      },
    });
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/#');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('poison');
    const before = await spoolFlows(spool, AGENT, sampleFlows(500), 50); // 10 batches
    const poison = await spool.append('events', Buffer.from('{"poison":true}'));
    const after = await spoolFlows(spool, AGENT, sampleFlows(500, 500), 50);
    const { uplink, lines } = makeUplink(spool, { url: broker.agentUrl, rejectAfter: 3 });
    const rejected: unknown[] = [];
    uplink.on('rejected', (r) => rejected.push(r));
    uplink.start();

    await waitFor('all good records', () => collector.distinct === before + after, 30_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    await spool.flush();
    expect(uplink.stats().rejected).toBe(1);
    expect(rejected).toEqual([{ seq: poison.seq, reason: expect.any(String) }]);
    expect(spool.stats().rejected_batches).toBe(1);
    expect(await readdir(path.join(spool.dir, 'rejected'))).toEqual([path.basename(poison.path)]);
    expect(collector.other).toEqual([]);
    const strikes = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'uplink: publish failed')
      .map((l) => [l.seq, l.strikes]);
    expect(strikes).toEqual([
      [poison.seq, 1],
      [poison.seq, 2],
      [poison.seq, 3],
    ]);
    // Strikes were pinned on the poison alone: no good entry was parked.
    expect(collector.distinct).toBe(1000);
  });

  it('recycles the connection when a PUBACK does not come, without a strike, and stop() never hangs', async () => {
    // This broker swallows the first three tries of one message (no PUBACK, no close), then takes it.
    let holeTries = 0;
    broker = await TestBroker.start({
      authorizePublish: (client, packet, callback) => {
        const text = packet.payload.toString();
        if (client && text.includes('forever')) return;
        if (client && text.includes('black-hole') && ++holeTries <= 3) return;
        callback(null);
      },
    });
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/#');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('silent');
    await spool.append('events', Buffer.from('{"black-hole":true}'));
    const total = await spoolFlows(spool, AGENT, sampleFlows(300), 100);
    const { uplink, lines } = makeUplink(spool, {
      url: broker.agentUrl,
      ackTimeoutMs: 300,
      rejectAfter: 2,
    });
    uplink.start();
    await waitFor('all records', () => collector.distinct === total, 15_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    // Silence is what a slow link looks like: the entry was retried, never struck or parked.
    expect(collector.other.map((m) => m.payload)).toEqual(['{"black-hole":true}']);
    expect(holeTries).toBe(4);
    expect(lines.filter((l) => /no PUBACK in time/.test(l)).length).toBe(3);
    expect(lines.filter((l) => /publish failed/.test(l))).toEqual([]);
    expect(uplink.stats()).toMatchObject({ rejected: 0 });
    expect(uplink.stats().reconnects).toBeGreaterThanOrEqual(3);
    await spool.flush();
    expect(await readdir(path.join(spool.dir, 'rejected'))).toEqual([]);

    // stop() with a publish stuck in flight gives up after drainMs; the entry stays spooled.
    const stuck = await spool.append('events', Buffer.from('{"forever":2}'));
    uplink.notify();
    await waitFor('in flight', () => uplink.stats().in_flight === 1);
    await uplink.stop({ drainMs: 200 });
    expect(uplink.stats().connected).toBe(false);
    expect(spool.peek(10).map((e) => e.seq)).toEqual([stuck.seq]);
  });

  it('on a slow link waits for PUBACKs as long as the bytes in flight need, with no recycles or strikes', async () => {
    broker = await TestBroker.start();
    // 20 KiB/s: a 13 KB batch takes ~0.6 s to cross, longer than the 300 ms base timeout.
    const link = await slowLink(broker.agentPort, 20 * 1024);
    cleanups.push(() => link.close());
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('slow-link');
    const total = await spoolFlows(spool, AGENT, sampleFlows(180), 30); // 6 × ~13 KB
    const { uplink, lines } = makeUplink(spool, {
      url: link.url,
      ackTimeoutMs: 300,
      maxInFlight: 4,
      rejectAfter: 2,
    });
    uplink.start();
    await waitFor('all records', () => collector.distinct === total, 15_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(lines.filter((l) => /no PUBACK in time|publish failed/.test(l))).toEqual([]);
    expect(uplink.stats()).toMatchObject({ reconnects: 0, rejected: 0, published: 6, acked: 6 });
    expect(collector.duplicates).toBe(0);
  });

  it('skips and counts an entry whose file was deleted from entries/, and delivers the rest', async () => {
    broker = await TestBroker.start();
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spoolLines: string[] = [];
    const spool = await DiskSpool.open({
      dir: path.join(tmp, 'deleted-file'),
      maxBytes: 10_000_000,
      logger: createAgentLogger({ write: (l) => spoolLines.push(l) }),
    });
    const total = await spoolFlows(spool, AGENT, sampleFlows(500), 100);
    const gone = spool.peek(10)[1]!;
    await unlink(gone.path);
    const { uplink } = makeUplink(spool, { url: broker.agentUrl });
    uplink.start();
    await waitFor('the other records', () => collector.distinct === total - 100, 10_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    await spool.flush();
    expect(spool.stats()).toMatchObject({ lost_batches: 1, lost_records: 100 });
    expect(uplink.stats()).toMatchObject({ published: 4, acked: 4, rejected: 0 });
    const lost = spoolLines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'spool: entry lost, skipping it');
    expect(lost).toMatchObject([{ level: 'warn', seq: gone.seq, records: 100 }]);
    expect(await readdir(path.join(spool.dir, 'entries'))).toEqual([]);
  });

  it('recovers a crashed spool: complete entries are sent, temp files are gone', async () => {
    broker = await TestBroker.start();
    const { client, collector } = await subscribe(broker.adminUrl, 'wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const dir = path.join(tmp, 'crashed');
    const first = await DiskSpool.open({ dir, maxBytes: 10_000_000 });
    const total = await spoolFlows(first, AGENT, sampleFlows(400), 100);
    // The crash: an append that fsynced but never renamed, and one cut off mid-write.
    const [half] = packFlowBatches(AGENT, sampleFlows(100, 400), { maxRecords: 100 });
    await writeFile(
      path.join(dir, 'entries', '.tmp-00000000000000000005-flows-100.msg.aa'),
      half!.payload,
    );
    await writeFile(
      path.join(dir, 'entries', '.tmp-00000000000000000006-flows-100.msg.bb'),
      half!.payload.subarray(0, 1000),
    );

    const spool = await DiskSpool.open({ dir, maxBytes: 10_000_000 });
    expect(spool.stats()).toMatchObject({ depth_batches: 4 });
    expect((await readdir(path.join(dir, 'entries'))).some((n) => n.startsWith('.tmp-'))).toBe(
      false,
    );
    const { uplink } = makeUplink(spool, { url: broker.agentUrl });
    uplink.start();
    await waitFor('all records', () => collector.distinct === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(collector.duplicates).toBe(0);
    expect(collector.distinct).toBe(400);
  });
});

describe('uplink with mosquitto (passwords and per-agent ACLs)', () => {
  let mosquitto: Mosquitto;
  const users = { 'edge-01': 'pw-edge-01', 'edge-02': 'pw-edge-02', ingest: 'pw-ingest' };

  beforeAll(async () => {
    mosquitto = await startMosquitto({ users });
  });
  afterAll(async () => {
    await mosquitto?.stop();
  });

  const asIngest = (topic: string) =>
    subscribe(mosquitto.url, topic, { username: 'ingest', password: users.ingest });

  it('delivers every record exactly once with the right credentials, and commands reach onCommand', async () => {
    const { client, collector } = await asIngest('wirefleet/v1/agents/+/flows');
    cleanups.push(() => endClient(client));
    const spool = await openSpool('mosq-happy');
    const total = await spoolFlows(spool, AGENT, sampleFlows(2000), 200);
    const { uplink } = makeUplink(spool, {
      url: mosquitto.url,
      username: 'edge-01',
      password: users['edge-01'],
    });
    const got: string[] = [];
    uplink.onCommand((p) => got.push(p.toString()));
    uplink.start();
    await waitFor('all records', () => collector.distinct === total);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(collector.duplicates).toBe(0);

    // ingest may write commands; the agent has subscribed by the time its flows were acked,
    // but a retry loop keeps this independent of that ordering.
    for (let i = 0; i < 50 && got.length === 0; i++) {
      await client.publishAsync(agentTopic(AGENT, 'commands'), `{"n":${i}}`, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got[0]).toBe('{"n":0}');
  });

  it('with a wrong password stays disconnected, keeps retrying and keeps the spool', async () => {
    const spool = await openSpool('mosq-badpw');
    await spoolFlows(spool, AGENT, sampleFlows(100), 50);
    const { uplink, lines } = makeUplink(spool, {
      url: mosquitto.url,
      username: 'edge-01',
      password: 'wrong',
    });
    uplink.start();
    await waitFor('retries', () => uplink.stats().reconnects >= 4);
    expect(uplink.stats()).toMatchObject({ connected: false, published: 0, acked: 0 });
    expect(spool.stats().depth_batches).toBe(2);
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'uplink: MQTT error');
    expect(errors[0].error).toMatch(/Not authorized|Bad username or password/);
    expect(lines.join('\n')).not.toContain('wrong');
  });

  it('over MQTT 5 takes a refused PUBACK as a strike and parks the entry instead of looping', async () => {
    // edge-02's credentials with edge-01's topics: mosquitto answers "Not authorized" (0x87).
    const spool = await openSpool('mosq-v5');
    await spoolFlows(spool, AGENT, sampleFlows(100), 50);
    const { uplink, lines } = makeUplink(spool, {
      url: mosquitto.url,
      username: 'edge-02',
      password: users['edge-02'],
      protocolVersion: 5,
      rejectAfter: 2,
    });
    uplink.start();
    await waitFor('both parked', () => uplink.stats().rejected === 2);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    expect(uplink.stats().acked).toBe(0);
    const failures = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'uplink: publish failed');
    expect(failures.map((f) => f.strikes)).toEqual([1, 2, 1, 2]);
    expect(failures[0].reason).toMatch(/Not authorized/);
  });

  it('does not deliver what an agent publishes under another agent topic (ACL)', async () => {
    const { client: ingest, collector } = await asIngest('wirefleet/v1/agents/+/#');
    cleanups.push(() => endClient(ingest));
    const intruder = connect(mosquitto.url, {
      clientId: 'edge-02',
      username: 'edge-02',
      password: users['edge-02'],
      reconnectPeriod: 0,
    });
    cleanups.push(() => endClient(intruder));
    await new Promise<void>((resolve, reject) => {
      intruder.once('connect', () => resolve());
      intruder.once('error', reject);
    });
    // MQTT 3.1.1 mosquitto acknowledges a denied publish and drops it.
    await intruder.publishAsync(agentTopic('edge-01', 'events'), 'forged', { qos: 1 });
    // Same connection, published afterwards: once this arrives, the forged one would have too.
    await intruder.publishAsync(agentTopic('edge-02', 'events'), 'own', { qos: 1 });
    await waitFor('own event', () => collector.other.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(collector.other).toEqual([{ topic: agentTopic('edge-02', 'events'), payload: 'own' }]);
  });
});

describe('uplink across a real mosquitto restart', () => {
  let mosquitto: Mosquitto;
  const users = { 'edge-01': 'pw-edge-01', ingest: 'pw-ingest' };

  beforeAll(async () => {
    mosquitto = await startMosquitto({ users, persistence: true });
  });
  afterAll(async () => {
    await mosquitto?.stop();
  });

  it('loses nothing when mosquitto is restarted mid-stream', async () => {
    // A persistent session, so the broker queues for the subscriber while it reconnects.
    const { client, collector } = await subscribe(mosquitto.url, 'wirefleet/v1/agents/+/flows', {
      username: 'ingest',
      password: users.ingest,
      clientId: 'ingest-restart-test',
      clean: false,
    });
    cleanups.push(() => endClient(client));
    const spool = await openSpool('mosq-restart');
    const total = await spoolFlows(spool, AGENT, sampleFlows(20_000), 100);
    const { uplink } = makeUplink(spool, {
      url: mosquitto.url,
      username: 'edge-01',
      password: users['edge-01'],
    });
    let restarted: Promise<void> | undefined;
    collector.onMessage = () => {
      if (!restarted && collector.messages >= 50) restarted = mosquitto.restart();
    };
    uplink.start();
    await waitFor('all records', () => collector.distinct === total, 40_000);
    await waitFor('empty spool', () => spool.stats().depth_batches === 0);
    await restarted;
    expect(restarted).toBeDefined();
    expect(uplink.stats().reconnects).toBeGreaterThanOrEqual(1);
    console.info(
      `mosquitto restart: ${total} records, ${collector.duplicates} redelivered, ` +
        `${uplink.stats().published} publishes for ${total / 100} batches`,
    );
  });
});
