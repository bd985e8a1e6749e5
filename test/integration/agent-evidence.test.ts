import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile } from '../../agent/evidence/key-file.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { SegmentRepository, segmentObjectKey } from '../../functions/store/segments.js';
import { DEFAULT_TENANT } from '../../functions/store/tenants.js';
import {
  type AgentProcess,
  eventually,
  registerAgent,
  startAgentProcess,
  wirefleet,
} from '../helpers/agent-process.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { freePort } from '../helpers/mosquitto.js';
import { sendUdpFromNamespace } from '../helpers/udp-sender.js';

// The agent as a real process (`wirefleet agent run`, root) records a live capture on a veth
// pair as encrypted evidence segments, first with its broker unreachable, then uploads them
// through the real local stack: aedes with the agent ACL, the ingest subscriber (which presigns
// and records), dynalite and s3rver. A kill -9 lands in the middle of the uploads; after a
// restart every segment is in S3 exactly once, byte for byte, and the one-link window the API
// assembles decrypts (wirefleet pcap decrypt --manifest, a real process) to exactly the
// datagrams that were sent.

const isRoot = process.getuid?.() === 0;
const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-agent-evidence-'));
const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`
  .slice(-6)
  .padStart(6, '0');
const nsB = `wfev-b-${id}`;
const vethA = `wea${id}`;
const vethB = `web${id}`;
const x = 1 + ((process.pid + 97) % 250);
const y = Math.floor(Math.random() * 250);
const addrA = `10.${x}.${y}.1`;
const addrB = `10.${x}.${y}.2`;
const PORT = 9787;
const AGENT = `ev-${id}`;
const DATAGRAMS = 8000;
const LIVE_DATAGRAMS = 2000;
const SIZE = 1300;

const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The UDP datagrams to PORT in a classic pcap (Ethernet, IPv4), as their payload sizes. */
function udpPayloadSizes(pcap: Buffer): number[] {
  const sizes: number[] = [];
  const le = pcap.readUInt32LE(0) === 0xa1b23c4d || pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (at: number) => (le ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  let at = 24;
  while (at + 16 <= pcap.length) {
    const caplen = u32(at + 8);
    const frame = pcap.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (frame.length < 42 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[23] !== 17) continue;
    const udp = 14 + ihl;
    if (frame.readUInt16BE(udp + 2) !== PORT) continue;
    sizes.push(frame.readUInt16BE(udp + 4) - 8);
  }
  expect(at).toBe(pcap.length);
  return sizes;
}

const PCAP_MAGICS = ['a1b2c3d4', 'd4c3b2a1', 'a1b23c4d', '4d3cb2a1', '0a0d0d0a'].map((h) =>
  Buffer.from(h, 'hex'),
);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function decryptWithCli(keyFile: string, encrypted: Buffer, name: string): Promise<Buffer> {
  const input = path.join(work, `${name}.wfe`);
  const output = path.join(work, `${name}.pcap`);
  writeFileSync(input, encrypted);
  await wirefleet(['pcap', 'decrypt', '--key-file', keyFile, input, '-o', output]);
  return readFileSync(output);
}

describe.skipIf(!isRoot)('agent evidence recording (veth, real agent process, local stack)', () => {
  let stack: TestStack;
  let clients: StoreClients;
  let sink: Socket;
  let created = false;
  let keyFile: string;
  let configPath: string;
  let config: Record<string, Record<string, unknown>>;
  let controlUrl: string;
  let token: string;
  const started: AgentProcess[] = [];

  beforeAll(async () => {
    ip('netns', 'add', nsB);
    created = true;
    ip('link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    ip('addr', 'add', `${addrA}/32`, 'dev', vethA);
    ip('link', 'set', vethA, 'up');
    ip('route', 'add', `${addrB}/32`, 'dev', vethA);
    ip('-n', nsB, 'link', 'set', 'lo', 'up');
    ip('-n', nsB, 'addr', 'add', `${addrB}/24`, 'dev', vethB);
    ip('-n', nsB, 'link', 'set', vethB, 'up');
    const mac = (args: string[]) => (JSON.parse(ip(...args)) as { address: string }[])[0]!.address;
    ip(
      '-n',
      nsB,
      'neigh',
      'replace',
      addrA,
      'lladdr',
      mac(['-j', 'link', 'show', vethA]),
      'dev',
      vethB,
      'nud',
      'permanent',
    );
    ip(
      'neigh',
      'replace',
      addrB,
      'lladdr',
      mac(['-n', nsB, '-j', 'link', 'show', vethB]),
      'dev',
      vethA,
      'nud',
      'permanent',
    );
    sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(PORT, addrA, r));

    stack = await startTestStack({ mqttPort: 0 });
    clients = createStoreClients(stack.config);
    keyFile = path.join(work, 'keys', 'evidence.key');
    createKeyFile(keyFile);
    const controlPort = await freePort();
    controlUrl = `http://127.0.0.1:${controlPort}`;
    token = 'evidence-test-control-token-0123456789';
    const tokenFile = path.join(work, 'control-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const registered = await registerAgent({
      apiUrl: stack.apiUrl,
      token: stack.token,
      id: AGENT,
      dir: work,
      patch: {
        // Only the test's datagrams: no IPv6 router solicitation lands in a later segment.
        capture: {
          interface: vethA,
          file: null,
          backend: 'afpacket',
          filter: `udp dst port ${PORT}`,
        },
        control: { listen: `127.0.0.1:${controlPort}`, token_file: tokenFile },
        mqtt: { reconnect_min_ms: 100, reconnect_max_ms: 1000 },
        heartbeat: { interval_sec: 1, metrics_interval_sec: 1 },
        evidence: {
          enabled: true,
          key_file: keyFile,
          cipher: 'AES-256-GCM',
          spool_dir: path.join(work, 'evidence'),
          max_spool_mb: 256,
          segment_mb: 1,
          segment_seconds: 1,
        },
      },
    });
    configPath = registered.configPath;
    config = registered.config;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(started.map((a) => a.kill9()));
    if (clients) destroyStoreClients(clients);
    await stack?.stop();
    sink?.close();
    if (created) {
      try {
        ip('link', 'del', vethA);
      } catch {
        // went with the namespace
      }
      ip('netns', 'del', nsB);
    }
    rmSync(work, { recursive: true, force: true });
  });

  /** A config variant next to the registered one. */
  function variant(name: string, patch: Record<string, Record<string, unknown>>): string {
    const file = path.join(work, `${name}.agent.json`);
    const merged = { ...config };
    for (const [section, values] of Object.entries(patch)) {
      merged[section] = { ...(config[section] ?? {}), ...values };
    }
    writeFileSync(file, JSON.stringify(merged, null, 2), { mode: 0o600 });
    return file;
  }

  const start = (file: string) => {
    const agent = startAgentProcess(file);
    started.push(agent);
    return agent;
  };

  async function status(): Promise<Record<string, any>> {
    const res = await fetch(`${controlUrl}/packet_capture/capture/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await res.json()) as Record<string, any>;
  }

  async function metrics(): Promise<Record<string, any>> {
    const res = await fetch(`${controlUrl}/packet_capture/capture/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await res.json()) as Record<string, any>;
  }

  it('refuses to start with a key file readable by others, saying which and why', async () => {
    const loose = path.join(work, 'loose.key');
    copyFileSync(keyFile, loose);
    chmodSync(loose, 0o644);
    const agent = start(variant('loose', { evidence: { ...config.evidence, key_file: loose } }));
    const exit = await agent.exited;
    expect(exit.code, agent.output()).toBe(2);
    expect(agent.output()).toContain(loose);
    expect(agent.output()).toMatch(/0644/);
    expect(readdirSync(path.join(work, 'evidence', 'segments'))).toEqual([]);
  });

  it('with recording off, an evidence spool that cannot open leaves the agent running without it', async () => {
    const notADir = path.join(work, 'a-file');
    writeFileSync(notADir, 'not a directory');
    const agent = start(
      variant('nospool', {
        mqtt: { ...config.mqtt, url: `mqtts://127.0.0.1:${await freePort()}` },
        evidence: { enabled: false, spool_dir: path.join(notADir, 'evidence') },
      }),
    );
    try {
      const s = await eventually(async () => {
        const current = await status();
        return current.running ? current : undefined;
      }, 'the capture running');
      expect(s.encryption_enabled).toBe(false);
      expect(s.evidence).toBeUndefined();
      const refused = await control('POST', '/encryption/enable', {
        cipher_suite: 'AES-256-GCM',
        key_file: keyFile,
      });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('recording_unavailable');
      expect(agent.output()).toMatch(/evidence spool cannot open/);
    } finally {
      await agent.kill9();
    }
  });

  async function control(method: 'POST', p: string, body: unknown) {
    const res = await fetch(`${controlUrl}/packet_capture/capture${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it('turns recording on through encryption/enable, and records only what the BPF filter passes', async () => {
    const spoolDir = path.join(work, 'evidence-api');
    const deadPort = await freePort();
    const agent = start(
      variant('api', {
        mqtt: { ...config.mqtt, url: `mqtts://127.0.0.1:${deadPort}` },
        capture: { ...config.capture, autostart: false, filter: '' },
        evidence: { ...config.evidence, enabled: false, key_file: null, spool_dir: spoolDir },
      }),
    );
    try {
      await eventually(
        async () => ((await status()).running === false ? true : undefined),
        'the control API',
      );
      expect((await status()).encryption_enabled).toBe(false);
      // A capture started before recording was on keeps running unrecorded.
      expect((await control('POST', '/start', {})).status).toBe(200);
      const enabled = await control('POST', '/encryption/enable', {
        cipher_suite: 'ChaCha20-Poly1305',
        key_file: keyFile,
      });
      expect(enabled.status).toBe(200);
      expect(enabled.body).toMatchObject({
        status: 'enabled',
        cipher_suite: 'ChaCha20-Poly1305',
        key_file: keyFile,
        applies: 'next_start',
      });
      expect(await status()).toMatchObject({ encryption_enabled: true, recording: false });
      expect((await control('POST', '/stop', {})).status).toBe(200);
      const started = await control('POST', '/start', { filter_expr: `udp dst port ${PORT}` });
      expect(started.body).toMatchObject({ status: 'started', recording: true });
      sendUdpFromNamespace(nsB, [
        { host: addrA, port: PORT, count: 300, sizes: Array(300).fill(700) },
        { host: addrA, port: PORT + 1, count: 300, sizes: Array(300).fill(900) },
      ]);
      await eventually(async () => {
        const m = await metrics();
        return m.packets_captured >= 300 ? m : undefined;
      }, 'the filtered datagrams captured');
      // A graceful stop seals the open segment and waits until it is on disk.
      expect((await control('POST', '/stop', { graceful: true })).status).toBe(200);
      const evidence = (await status()).evidence;
      expect(evidence.packets_recorded).toBe(300);
      const segmentsDir = path.join(spoolDir, 'segments');
      const names = readdirSync(segmentsDir).sort();
      expect(names.length).toBe(evidence.segments_recorded);
      const joined = Buffer.concat(names.map((name) => readFileSync(path.join(segmentsDir, name))));
      for (const magic of PCAP_MAGICS) expect(joined.includes(magic)).toBe(false);
      expect(joined[9]).toBe(3); // cipher id 3: ChaCha20-Poly1305
      const sizes = udpPayloadSizes(await decryptWithCli(keyFile, joined, 'filtered'));
      expect(sizes).toEqual(Array(300).fill(700));
    } finally {
      await agent.kill9();
    }
  });

  it('records encrypted offline, survives kill -9 mid-upload, and stores every segment once', async () => {
    const spoolDir = path.join(work, 'evidence');
    const segmentsDir = path.join(spoolDir, 'segments');
    // 1. Broker unreachable: the agent records into its spool.
    const deadPort = await freePort();
    const offline = start(
      variant('offline', { mqtt: { ...config.mqtt, url: `mqtts://127.0.0.1:${deadPort}` } }),
    );
    await eventually(
      async () => {
        const s = await status();
        return s.running && s.recording ? s : undefined;
      },
      'the live capture recording',
      20_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${offline.output()}`);
    });
    sendUdpFromNamespace(nsB, [
      { host: addrA, port: PORT, count: DATAGRAMS, sizes: Array(DATAGRAMS).fill(SIZE) },
    ]);
    const recorded = await eventually(async () => {
      const s = await status();
      const m = await metrics();
      // Every captured packet sealed (the last segment closes on its 1 s timer).
      const all = s.evidence.packets_recorded;
      return all === DATAGRAMS && all === m.packets_captured ? s.evidence : undefined;
    }, 'every datagram recorded');
    expect(recorded.spool.depth_segments).toBeGreaterThanOrEqual(8);
    expect(recorded.upload.uploaded_segments).toBe(0);
    await offline.kill9();

    // 2. What is on disk: encrypted segments only, no pcap magic in any file, numbered 0..n-1.
    const names = readdirSync(segmentsDir).sort();
    const n = names.length;
    expect(n).toBe(recorded.spool.depth_segments);
    expect(names.map((name) => Number(name.slice(0, 20)))).toEqual([...Array(n).keys()]);
    for (const file of filesUnder(spoolDir)) {
      const bytes = readFileSync(file);
      for (const magic of PCAP_MAGICS) expect(bytes.includes(magic), file).toBe(false);
    }
    const spooled = new Map(
      names.map((name) => [name.slice(21, 53), readFileSync(path.join(segmentsDir, name))]),
    );
    const joined = await decryptWithCli(keyFile, Buffer.concat([...spooled.values()]), 'spooled');
    const sent = udpPayloadSizes(joined);
    expect(sent.length).toBe(DATAGRAMS);
    expect(new Set(sent)).toEqual(new Set([SIZE]));

    // 3. Broker back: uploads start; kill -9 as soon as the first segment is confirmed.
    const online = start(configPath);
    await eventually(
      async () => (online.output().includes('evidence segment uploaded') ? true : undefined),
      'a first upload',
      60_000,
      5,
    );
    await online.kill9();
    const left = readdirSync(segmentsDir).filter((f) => f.endsWith('.wfe'));
    expect(left.length).toBeLessThan(n);
    console.info(`evidence: ${n} segments recorded offline; kill -9 left ${left.length} spooled`);

    // 4. Restart: everything still spooled goes up; nothing twice.
    const again = start(configPath);
    const done = await eventually(async () => {
      const s = await status();
      return s.evidence.spool.depth_segments === 0 ? s.evidence : undefined;
    }, 'the spool emptied');
    expect(done.spool).toMatchObject({ dropped_segments: 0, refused_segments: 0 });
    expect(readdirSync(segmentsDir)).toEqual([]);

    // 5. Online: what is recorded now goes up as it is sealed.
    await eventually(async () => ((await status()).recording ? true : undefined), 'recording');
    sendUdpFromNamespace(nsB, [
      { host: addrA, port: PORT, count: LIVE_DATAGRAMS, sizes: Array(LIVE_DATAGRAMS).fill(SIZE) },
    ]);
    const live = await eventually(async () => {
      const s = await status();
      const m = await metrics();
      const all = s.evidence.packets_recorded;
      const sealed = all === LIVE_DATAGRAMS && all === m.packets_captured;
      return sealed && s.evidence.spool.depth_segments === 0 ? s.evidence : undefined;
    }, 'live segments uploaded');
    expect(live.segments_recorded).toBeGreaterThanOrEqual(2);
    expect((await again.stop()).code).toBe(0);
    const total = n + live.segments_recorded;

    const listed = await clients.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.config.pcapBucket,
        Prefix: `tenants/${DEFAULT_TENANT}/agents/${AGENT}/segments/`,
      }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.length).toBe(total);
    expect(keys).toEqual(
      expect.arrayContaining(
        [...spooled.keys()].map((sid) => segmentObjectKey(DEFAULT_TENANT, AGENT, sid)),
      ),
    );
    const repo = new SegmentRepository(clients, stack.config.flowsTable);
    const { segments } = await repo.window(DEFAULT_TENANT, AGENT, {}, 1000);
    expect(segments.map((s) => s.seq).sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    const stored: Buffer[] = [];
    for (const record of [...segments].sort((a, b) => a.seq - b.seq)) {
      const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: stack.config.pcapBucket, Key: record.object_key }),
      );
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      if (record.seq < n) expect(bytes.equals(spooled.get(record.segment_id)!)).toBe(true);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(record.sha256);
      stored.push(bytes);
    }
    const fromS3 = udpPayloadSizes(await decryptWithCli(keyFile, Buffer.concat(stored), 'stored'));
    expect(fromS3.length).toBe(DATAGRAMS + LIVE_DATAGRAMS);

    // 6. What an investigator does: one link for the whole time window, assembled inside S3,
    // decrypted against the cloud's signed manifest into exactly the datagrams that were sent.
    const since = Math.min(...segments.map((s) => s.started_at));
    const until = Math.max(...segments.map((s) => s.ended_at));
    const res = await stack.api(
      `/api/v1/segments/download?agent_id=${AGENT}&since=${since}&until=${until}`,
    );
    expect(res.status).toBe(200);
    const window = (await res.json()) as { url: string; segments: number; bytes: number };
    expect(window.segments).toBe(total);
    const windowFile = path.join(work, 'window.wfe');
    const manifestFile = path.join(work, 'window.manifest.json');
    const windowPcap = path.join(work, 'window.pcap');
    writeFileSync(windowFile, Buffer.from(await (await fetch(window.url)).arrayBuffer()));
    writeFileSync(manifestFile, JSON.stringify(window));
    await wirefleet([
      'pcap',
      'decrypt',
      '--key-file',
      keyFile,
      '--manifest',
      manifestFile,
      windowFile,
      '-o',
      windowPcap,
    ]);
    const fromWindow = udpPayloadSizes(readFileSync(windowPcap));
    expect(fromWindow).toEqual(Array(DATAGRAMS + LIVE_DATAGRAMS).fill(SIZE));
  }, 300_000);

  it('turns recording on by a cloud command (evidence.enable), with the configured key, and uploads', async () => {
    const spoolDir = path.join(work, 'evidence-cmd');
    const agent = start(
      variant('cmd', {
        capture: { ...config.capture, autostart: false },
        evidence: { ...config.evidence, enabled: false, spool_dir: spoolDir },
      }),
    );
    try {
      await eventually(
        async () => (agent.output().includes('uplink connected') ? true : undefined),
        'the agent online',
      );
      expect((await status()).encryption_enabled).toBe(false);
      const since = Math.floor(Date.now() / 1000);
      const posted = await stack.api(`/api/v1/agents/${AGENT}/commands`, {
        method: 'POST',
        json: { action: 'evidence.enable', params: { cipher_suite: 'AES-128-GCM' } },
      });
      expect(posted.status).toBe(202);
      const { command_id } = (await posted.json()) as { command_id: string };
      const done = await eventually(async () => {
        const res = await stack.api(`/api/v1/agents/${AGENT}/commands/${command_id}`);
        const body = (await res.json()) as Record<string, any>;
        return body.status === 'pending' ? undefined : body;
      }, 'the agent’s reply');
      expect(done).toMatchObject({
        status: 'ok',
        reply: {
          status: 'ok',
          result: {
            status: 'enabled',
            cipher_suite: 'AES-128-GCM',
            key_file: keyFile,
            applies: 'now',
          },
        },
      });
      expect((await status()).encryption_enabled).toBe(true);

      // The next capture records, and its segments reach the cloud under the new cipher.
      expect((await control('POST', '/start', {})).body).toMatchObject({ recording: true });
      sendUdpFromNamespace(nsB, [
        { host: addrA, port: PORT, count: 500, sizes: Array(500).fill(SIZE) },
      ]);
      await eventually(async () => {
        const m = await metrics();
        return m.packets_captured >= 500 ? m : undefined;
      }, 'the datagrams captured');
      expect((await control('POST', '/stop', { graceful: true })).status).toBe(200);
      const listed = await eventually(async () => {
        const res = await stack.api(`/api/v1/agents/${AGENT}/segments?since=${since}`);
        const body = (await res.json()) as { segments: Array<Record<string, any>> };
        const recorded = body.segments.filter((x) => x.cipher === 'AES-128-GCM');
        const packets = recorded.reduce((n, x) => n + x.packets, 0);
        return packets === 500 ? recorded : undefined;
      }, 'the recorded segments in the cloud');
      expect(listed.length).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.kill9();
    }
  });
});
