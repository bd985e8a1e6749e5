import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveEpochKey, TangoNode, TangoNodeHeldError } from '../../native/tango.js';
import {
  parsePrefix,
  TangoForwarder,
  TangoForwarderError,
  type TangoForwarderStats,
} from '../../native/tango-forwarder.js';
import { IPPROTO_UDP } from '../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { encodeUdp } from '../../protocol/udp.js';
import {
  buildTangoTopology,
  captureRouteUpdate,
  type EchoServer,
  eventually,
  injectFrame,
  inNs,
  ip,
  pings,
  receiveWithTos,
  startEchoServer,
  type TangoTopology,
  udpRoundTrips,
} from '../helpers/tango-topology.js';

// Two real Tango forwarders (C threads, TUN devices, AF_PACKET sockets) between four network
// namespaces: host1 — t1 — 3 veth paths — t2 — host2. Traffic is real kernel UDP and ICMP from
// host1 to host2 through both forwarders. Needs root (netns, veth, TUN, AF_PACKET).

const isRoot = process.getuid?.() === 0;
const PATHS = 3;
const VOICE_PORT = 5001; // class 1 by t1's rule
const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);

function makeNode(topology: TangoTopology, side: 0 | 1, pairSecret = secret): TangoNode {
  const node = new TangoNode({ side });
  for (const p of topology.paths) {
    node.setPath({
      pathId: p.pathId,
      localAddress: side === 0 ? p.t1Addr : p.t2Addr,
      peerAddress: side === 0 ? p.t2Addr : p.t1Addr,
      localMac: side === 0 ? p.t1Mac : p.t2Mac,
      nextHopMac: side === 0 ? p.t2Mac : p.t1Mac,
    });
  }
  node.setSendKey(1, deriveEpochKey(pairSecret, 1));
  node.rotateReceiveKey(1, deriveEpochKey(pairSecret, 1));
  return node;
}

function payloads(count: number, seed: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    Uint8Array.from({ length: 1 + ((i * 97 + seed) % 1400) }, (_, k) => (k * 31 + i + seed) & 0xff),
  );
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Datagram i of a burst: its number, then 0..1199 bytes of a pattern (sizes vary, so a frame
 *  sent from another packet's buffer would show). */
function burstDatagram(i: number): Uint8Array {
  const size = 4 + ((i * 37) % 1200);
  const d = Uint8Array.from({ length: size }, (_, k) => (i + k) & 0xff);
  new DataView(d.buffer).setUint32(0, i);
  return d;
}
const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** Sends a burst back to back (the forwarders then read, send and receive it in batches). */
const BURST_SENDER = `
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    size = 4 + (i * 37) % 1200
    s.sendto(i.to_bytes(4, 'big') + bytes((i + k) & 0xff for k in range(4, size)), (host, port))
`;

/** Receives up to n datagrams (10 s of silence ends it) and prints their digests, in order. The
 *  forced 8 MiB buffer (root) holds the whole burst whenever this process gets the CPU. */
const BURST_RECEIVER = `
import hashlib, json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
s.bind(('0.0.0.0', int(sys.argv[1])))
s.settimeout(10)
print('ready', flush=True)
got = []
try:
    while len(got) < int(sys.argv[2]):
        got.append(hashlib.sha256(s.recv(65535)).hexdigest()[:16])
except socket.timeout:
    pass
print(json.dumps(got), flush=True)
`;

function receiveBurst(ns: string, port: number, count: number) {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'python3', '-c', BURST_RECEIVER, String(port), String(count)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const settle = { ready: () => {}, done: (_: string[]) => {} };
  const started = new Promise<void>((resolve) => (settle.ready = resolve));
  const digests = new Promise<string[]>((resolve) => (settle.done = resolve));
  lines.on('line', (line) => (line === 'ready' ? settle.ready() : settle.done(JSON.parse(line))));
  // 'close' comes after its output was read: whatever it did not print is an error.
  const failed = new Promise<never>((_, reject) =>
    child.once('close', (code) => reject(new Error(`burst receiver exited with ${code}`))),
  );
  failed.catch(() => {});
  return { started: Promise.race([started, failed]), digests: Promise.race([digests, failed]) };
}

/** Per-path tx/rx differences between two stats readings. */
function pathDelta(after: TangoForwarderStats, before: TangoForwarderStats) {
  return after.perPath.map((p, i) => ({
    tx: p.txFrames - before.perPath[i]!.txFrames,
    rx: p.rxFrames - before.perPath[i]!.rxFrames,
  }));
}

describe.skipIf(!isRoot)(
  'Tango forwarders between namespaces (root: netns, veth, TUN, AF_PACKET)',
  () => {
    let topology: TangoTopology;
    let nodes: TangoNode[] = [];
    let t1: TangoForwarder;
    let t2: TangoForwarder;
    let echo: EchoServer;
    const forwarders: TangoForwarder[] = [];

    beforeAll(async () => {
      topology = buildTangoTopology(PATHS);
      const { ns, id } = topology;
      nodes = [makeNode(topology, 0), makeNode(topology, 1)];
      t1 = TangoForwarder.start({
        node: nodes[0]!,
        netns: ns.t1,
        tunName: `tg1${id}`,
        paths: topology.paths.map((p) => ({ pathId: p.pathId, interface: p.t1If })),
        classes: [
          {
            classId: 1,
            protocol: 'udp',
            dstPrefix: '10.2.0.0/24',
            dstPorts: [VOICE_PORT, VOICE_PORT],
          },
        ],
        classPaths: [0, 1, ...Array.from({ length: 14 }, () => 0)],
      });
      forwarders.push(t1);
      t2 = TangoForwarder.start({
        node: nodes[1]!,
        netns: ns.t2,
        tunName: `tg2${id}`,
        paths: topology.paths.map((p) => ({ pathId: p.pathId, interface: p.t2If })),
      });
      forwarders.push(t2);
      ip('-n', ns.t1, 'route', 'add', '10.2.0.0/24', 'dev', `tg1${id}`);
      ip('-n', ns.t2, 'route', 'add', '10.1.0.0/24', 'dev', `tg2${id}`);
      echo = await startEchoServer(ns.host2, [5000, VOICE_PORT, 1]);
    });

    afterAll(async () => {
      echo?.stop();
      for (const f of forwarders) await f.stop();
      for (const n of nodes) n.close();
      topology?.destroy();
    });

    it('carries UDP and ICMP echo from host1 to host2 byte for byte, replies back, counted on path 0', async () => {
      const before = [t1.stats(), t2.stats()];
      const sent = payloads(20, 1);
      const echoes = udpRoundTrips(topology.ns.host1, '10.2.0.2', 5000, 40000, sent);
      expect(echoes).toEqual(sent.map(hex));
      await eventually(
        'host2 logged them',
        () => echo.received.filter((r) => r.port === 5000).length >= 20,
      );
      const atHost2 = echo.received.filter((r) => r.port === 5000);
      expect(atHost2.map((r) => r.hex)).toEqual(sent.map(hex));
      expect(atHost2.every((r) => r.from === '10.1.0.2' && r.fromPort === 40000)).toBe(true);

      const pingData = payloads(3, 7).map((p) => p.subarray(0, 56));
      expect(pings(topology.ns.host1, '10.2.0.2', pingData)).toEqual(pingData.map(hex));

      const after = [t1.stats(), t2.stats()];
      // 20 datagrams + 3 echo requests each way, all on path 0 (class 0).
      expect(pathDelta(after[0]!, before[0]!)).toEqual([
        { tx: 23, rx: 23 },
        { tx: 0, rx: 0 },
        { tx: 0, rx: 0 },
      ]);
      expect(pathDelta(after[1]!, before[1]!)).toEqual([
        { tx: 23, rx: 23 },
        { tx: 0, rx: 0 },
        { tx: 0, rx: 0 },
      ]);
      expect(after[0]!.tunRx - before[0]!.tunRx).toBe(23);
      expect(after[1]!.tunTx - before[1]!.tunTx).toBe(23);
      expect(after[0]!.rxRejected).toBe(0);
      expect(after[1]!.rxRejected).toBe(0);
      expect(after[0]!.running && after[1]!.running).toBe(true);
      // The node measured the path (read under the forwarder's lock).
      const measured = t2.pathStats(0);
      expect(measured.rx_packets).toBeGreaterThanOrEqual(23);
      expect(measured.rx_lost).toBe(0);
    });

    it('forwards a back-to-back burst whole, in order and byte for byte, counted exactly on both ends', async () => {
      // 400 datagrams: under the TUN queue (1000) and the path socket's buffer, so nothing may be
      // lost whatever the scheduling; batches of up to 64 form on both forwarders.
      const count = 400;
      const before = [t1.stats(), t2.stats()];
      const receiver = receiveBurst(topology.ns.host2, 7100, count);
      await receiver.started;
      inNs(topology.ns.host1, 'python3', ['-c', BURST_SENDER, '10.2.0.2', '7100', String(count)]);
      const got = await receiver.digests;
      expect(got).toEqual(Array.from({ length: count }, (_, i) => digest(burstDatagram(i))));
      const after = [t1.stats(), t2.stats()];
      expect(after[0]!.tunRx - before[0]!.tunRx).toBe(count);
      expect(pathDelta(after[0]!, before[0]!)[0]!.tx).toBe(count);
      expect(pathDelta(after[1]!, before[1]!)[0]!.rx).toBe(count);
      expect(after[1]!.tunTx - before[1]!.tunTx).toBe(count);
      for (const i of [0, 1]) {
        expect(after[i]!.encapErrors).toBe(before[i]!.encapErrors);
        expect(after[i]!.rxRejected).toBe(before[i]!.rxRejected);
        expect(after[i]!.perPath.map((p) => p.txErrors + p.rxErrors)).toEqual(
          before[i]!.perPath.map((p) => p.txErrors + p.rxErrors),
        );
      }
      expect(t2.pathStats(0).rx_lost).toBe(0);
    });

    it('sends the destination-port class on its path, and setClassPath moves it', () => {
      const s0 = t1.stats();
      const sent = payloads(10, 3);
      expect(udpRoundTrips(topology.ns.host1, '10.2.0.2', VOICE_PORT, 40001, sent)).toEqual(
        sent.map(hex),
      );
      const s1 = t1.stats();
      expect(pathDelta(s1, s0).map((d) => d.tx)).toEqual([0, 10, 0]);

      t1.setClassPath(1, 2);
      expect(t1.classPaths().slice(0, 3)).toEqual([0, 2, 0]);
      expect(udpRoundTrips(topology.ns.host1, '10.2.0.2', VOICE_PORT, 40001, sent)).toEqual(
        sent.map(hex),
      );
      expect(pathDelta(t1.stats(), s1).map((d) => d.tx)).toEqual([0, 0, 10]);
      expect(() => t1.setClassPath(16, 0)).toThrow(/0\.\.15/);
      expect(() => t1.setClassPath(1, 5)).toThrow(/not one of this forwarder's paths/);
    });

    it("applies the peer's authenticated route update, once per update whatever path it came on", async () => {
      const before = [t1.stats(), t2.stats()];
      t2.sendRouteUpdate(1, 1);
      await eventually('three copies reach t1', () => {
        const s = t1.stats();
        return (
          s.routeUpdatesApplied +
            s.routeUpdatesIgnored -
            before[0]!.routeUpdatesApplied -
            before[0]!.routeUpdatesIgnored ===
          3
        );
      });
      const after = t1.stats();
      expect(t1.classPaths()[1]).toBe(1);
      expect(after.routeUpdatesApplied - before[0]!.routeUpdatesApplied).toBe(1);
      expect(after.routeUpdatesIgnored - before[0]!.routeUpdatesIgnored).toBe(2);
      expect(t2.stats().routeUpdatesSent - before[1]!.routeUpdatesSent).toBe(3);
      expect(after.tunTx).toBe(before[0]!.tunTx); // consumed by t1, never written to its TUN

      const s0 = t1.stats();
      const sent = payloads(5, 9);
      expect(udpRoundTrips(topology.ns.host1, '10.2.0.2', VOICE_PORT, 40001, sent)).toEqual(
        sent.map(hex),
      );
      expect(pathDelta(t1.stats(), s0).map((d) => d.tx)).toEqual([0, 5, 0]);
    });

    it("delivers a host's datagram with ports 3 -> 1 (the embedded encoding) as data and changes nothing", async () => {
      const before = [t1.stats(), t2.stats()];
      const maps = [t1.classPaths(), t2.classPaths()];
      const datagram = Uint8Array.from([0x72, 0x6f, 0x75, 0x74, 0x65]);
      expect(udpRoundTrips(topology.ns.host1, '10.2.0.2', 1, 3, [datagram])).toEqual([
        hex(datagram),
      ]);
      await eventually('host2 logged it', () => echo.received.some((r) => r.port === 1));
      expect(echo.received.filter((r) => r.port === 1).map((r) => [r.fromPort, r.hex])).toEqual([
        [3, hex(datagram)],
      ]);
      const after = [t1.stats(), t2.stats()];
      expect([t1.classPaths(), t2.classPaths()]).toEqual(maps);
      for (const i of [0, 1]) {
        expect(after[i]!.routeUpdatesApplied).toBe(before[i]!.routeUpdatesApplied);
        expect(after[i]!.routeUpdatesRefused).toBe(before[i]!.routeUpdatesRefused);
        expect(after[i]!.tunTx - before[i]!.tunTx).toBe(1);
      }
    });

    it('refuses a route update signed with another key, and changes nothing', async () => {
      const { ns, id } = topology;
      const forgerNode = makeNode(
        topology,
        1,
        Uint8Array.from({ length: 32 }, (_, i) => i),
      );
      nodes.push(forgerNode);
      const forger = TangoForwarder.start({
        node: forgerNode,
        netns: ns.t2,
        tunName: `tgx${id}`,
        paths: topology.paths.map((p) => ({ pathId: p.pathId, interface: p.t2If })),
      });
      forwarders.push(forger);
      const before = t1.stats();
      const rejectsBefore = t1.nodeStats().rejects.bad_signature;
      const map = t1.classPaths();
      forger.sendRouteUpdate(1, 2);
      expect(forger.stats().routeUpdatesSent).toBe(3);
      await eventually(
        't1 refuses the three forged copies',
        () => t1.stats().routeUpdatesRefused - before.routeUpdatesRefused === 3,
      );
      expect(t1.classPaths()).toEqual(map);
      expect(t1.nodeStats().rejects.bad_signature - rejectsBefore).toBe(3);
      expect(t1.stats().routeUpdatesApplied).toBe(before.routeUpdatesApplied);
      // Inside locked() the node is the caller's alone; the forwarder's own methods refuse to nest.
      expect(forger.locked((node) => node.stats().tx_packets)).toBe(3);
      expect(() => forger.locked(() => forger.stats())).toThrow(/outside locked/);
      await forger.stop();
      // The TUN it created went with it.
      expect(ip('-n', ns.t2, '-o', 'link', 'show')).not.toContain(`tgx${id}`);
      expect(ip('-n', ns.t2, '-o', 'link', 'show')).toContain(`tg2${id}`);
    });

    it('refuses a genuine route update replayed on its path', async () => {
      const { ns, paths } = topology;
      const capture = captureRouteUpdate(ns.t1, paths[0]!.t1If);
      await capture.ready;
      const before = t1.stats();
      t2.sendRouteUpdate(1, 0);
      const frame = await capture.frame;
      await eventually('t1 applies the update', () => t1.classPaths()[1] === 0);
      await eventually('all copies in', () => {
        const s = t1.stats();
        return (
          s.routeUpdatesApplied +
            s.routeUpdatesIgnored -
            before.routeUpdatesApplied -
            before.routeUpdatesIgnored ===
          3
        );
      });
      const mid = t1.stats();
      const rejects = t1.pathStats(0).rejects;
      injectFrame(ns.t2, paths[0]!.t2If, frame);
      await eventually(
        't1 refuses the replay',
        () => t1.stats().routeUpdatesRefused - mid.routeUpdatesRefused === 1,
      );
      const after = t1.stats();
      expect(after.routeUpdatesApplied).toBe(mid.routeUpdatesApplied);
      expect(after.routeUpdatesIgnored).toBe(mid.routeUpdatesIgnored);
      expect(t1.classPaths()[1]).toBe(0);
      const now = t1.pathStats(0).rejects;
      // Inside the window it is a replay; had the test machine stalled past max_age, stale.
      expect(now.replay + now.stale - rejects.replay - rejects.stale).toBe(1);
    });

    it('answers a too-big DF packet with ICMP fragmentation-needed, and host1 learns the MTU', async () => {
      const before = t1.stats();
      const maxInner = before.perPath[0]!.maxInner;
      expect(maxInner).toBe(1500 - 58);
      // 1472 bytes of UDP payload: a 1500-byte IPv4 packet, DF set by Linux's PMTU discovery.
      // No echo can come: send without waiting for one, then wait for t1 to have handled it.
      expect(
        udpRoundTrips(topology.ns.host1, '10.2.0.2', 5000, 40002, [new Uint8Array(1472)], 0),
      ).toEqual([null]);
      await eventually('t1 drops the packet', () => t1.stats().tooBig > before.tooBig);
      const after = t1.stats();
      expect(after.tooBig - before.tooBig).toBe(1);
      expect(after.icmpFragNeeded - before.icmpFragNeeded).toBe(1);
      expect(pathDelta(after, before)[0]!.tx).toBe(0);
      await eventually('host1 caches the tunnel MTU', () =>
        ip('-n', topology.ns.host1, 'route', 'get', '10.2.0.2').includes(`mtu ${maxInner}`),
      );
    });

    it('decapsulates ECN as RFC 6040 says: outer CE marks an ECT inner CE, and drops a Not-ECT one', async () => {
      const { ns, paths } = topology;
      // A genuine sender beside t2 (same key and side) whose frames are injected on path 2 with the
      // outer ECN set to CE, as a congested router on the path would (the outer traffic class is not
      // covered by the tag or the UDP checksum). Its first frame restarts t1's window on path 2.
      const sender = makeNode(topology, 1);
      nodes.push(sender);
      const receiver = receiveWithTos(ns.host1, 7001, 1);
      await receiver.ready;
      const before = t1.stats();
      const inner = (ecn: number, fill: number) => {
        const pseudo = { src: '10.2.0.2', dst: '10.1.0.2' };
        const payload = Uint8Array.from({ length: 64 }, (_, i) => (i + fill) & 0xff);
        return encodeIPv4(
          { ...pseudo, protocol: IPPROTO_UDP, ecn, dscp: 10 },
          encodeUdp({ srcPort: 7000, dstPort: 7001 }, payload, { checksum: 'compute', pseudo }),
        );
      };
      const withOuterCe = (frame: Uint8Array) => {
        expect((frame[15]! >> 4) & 3).not.toBe(3);
        frame[15]! |= 0x30; // IPv6 traffic class: its ECN bits are bits 4-5 of the second byte
        return hex(frame);
      };
      injectFrame(ns.t2, paths[2]!.t2If, withOuterCe(sender.encapsulate(2, inner(0, 1)))); // Not-ECT
      injectFrame(ns.t2, paths[2]!.t2If, withOuterCe(sender.encapsulate(2, inner(2, 2)))); // ECT(0)
      await eventually('host1 gets the marked datagram', () => receiver.received.length === 1);
      receiver.stop();
      const [got] = receiver.received;
      expect(got!.tos).toBe((10 << 2) | 3); // DSCP kept, ECN now CE; the kernel checked the header checksum
      expect(got!.hex).toBe(hex(inner(2, 2).subarray(28)));
      const after = t1.stats();
      expect(after.ecnDrops - before.ecnDrops).toBe(1);
      expect(after.tunTx - before.tunTx).toBe(1);
      expect(pathDelta(after, before)[2]!.rx).toBe(2);
    });

    it('refuses a namespace that does not exist, and a second forwarder on a running node', () => {
      const base = { node: nodes[0]!, tunName: 'tgv0', paths: [{ pathId: 0, interface: 'lo' }] };
      expect(() => TangoForwarder.start({ ...base, netns: `wftg-none-${topology.id}` })).toThrow(
        /No such file/,
      );
      // One node, one forwarder: a second one would race the first over the node.
      expect(() => TangoForwarder.start({ ...base, netns: topology.ns.t1 })).toThrow(
        /already has a running forwarder/,
      );
    });

    /** A fresh node of side 1 forwarding on path 0 only, in tango2's namespace. */
    const startOnePath = (tunName: string) => {
      const node = makeNode(topology, 1);
      nodes.push(node);
      const f = TangoForwarder.start({
        node,
        netns: topology.ns.t2,
        tunName,
        paths: [{ pathId: 0, interface: topology.paths[0]!.t2If }],
      });
      forwarders.push(f);
      return { node, f };
    };

    it('reports a thread stopped by a fatal error, and still stops cleanly', async () => {
      const { ns, id } = topology;
      const { f } = startOnePath(`tgd${id}`);
      expect(f.stats()).toMatchObject({ running: true, error: null });
      ip('-n', ns.t2, 'link', 'del', `tgd${id}`); // the TUN removed under the forwarder
      await eventually('the thread notices', () => !f.stats().running);
      expect(f.stats().error).toMatch(/reading the TUN/);
      await f.stop();
      expect(() => f.stats()).toThrow(/stopped/);
      await f.stop(); // idempotent
    });

    it('refuses to close a node while its forwarder runs (also inside locked()), and closes it once stopped', async () => {
      const { node, f } = startOnePath(`tgc${topology.id}`);
      // Freeing the node under the running thread would be a use-after-free.
      expect(() => node.close()).toThrow(/stop the forwarder first/);
      expect(() => f.locked((n) => n.close())).toThrow(/stop the forwarder first/);
      // Still whole: its paths are there, and the thread still runs on it.
      expect(f.pathStats(0).configured).toBe(true);
      expect(f.stats()).toMatchObject({ running: true, error: null });
      // Any other call outside locked() would race the thread: refused, as the node's own error.
      expect(() => node.pathStats(0)).toThrow(TangoNodeHeldError);
      expect(() => node.setClockOffset(0n)).toThrow(/inside forwarder\.locked\(\)/);
      expect(f.locked((n) => n.setClockOffset(1_000_000n))).toBeUndefined();
      await f.stop();
      expect(node.pathStats(0).configured).toBe(true);
      node.close();
      expect(() => node.stats()).toThrow(/closed/);
      node.close(); // idempotent
    });
  },
);

describe('TangoForwarder options (checked before anything is opened)', () => {
  const node = new TangoNode({ side: 0 });
  const base = { node, tunName: 'tgv0', paths: [{ pathId: 0, interface: 'lo' }] };
  afterAll(() => node.close());

  it('refuses out-of-range rules, class maps and names with a clear TangoForwarderError', () => {
    const refused = (options: Partial<Parameters<typeof TangoForwarder.start>[0]>, why: RegExp) => {
      expect(() => TangoForwarder.start({ ...base, ...options })).toThrow(TangoForwarderError);
      expect(() => TangoForwarder.start({ ...base, ...options })).toThrow(why);
    };
    refused({ classes: [{ classId: 16 }] }, /classes\.0\.classId/);
    refused({ classes: [{ classId: 1, dstPrefix: '10.2.0.1/24' }] }, /beyond the prefix length/);
    refused({ classes: [{ classId: 1, srcPrefix: '10.2.0.0/33' }] }, /0\.\.32/);
    refused({ classes: [{ classId: 1, protocol: 'icmp', dstPorts: [1, 2] }] }, /ICMP has no ports/);
    refused({ classes: [{ classId: 1, dstPorts: [9, 8] }] }, /low to high/);
    refused({ classes: Array.from({ length: 17 }, () => ({ classId: 1 })) }, /classes/);
    refused({ classPaths: Array.from({ length: 16 }, () => 1) }, /one of the forwarder paths/);
    refused({ classPaths: [0] }, /classPaths/);
    refused({ tunName: 'a-name-far-too-long' }, /tunName/);
    refused({ paths: [] }, /paths/);
    refused(
      {
        paths: [
          { pathId: 1, interface: 'lo' },
          { pathId: 1, interface: 'lo' },
        ],
      },
      /distinct/,
    );
  });

  it('reads IPv4 prefixes exactly', () => {
    expect(parsePrefix('10.2.0.0/16')).toEqual({ net: 0x0a020000, bits: 16 });
    expect(parsePrefix('255.255.255.255')).toEqual({ net: 0xffffffff, bits: 32 });
    expect(parsePrefix('0.0.0.0/0')).toEqual({ net: 0, bits: 0 });
    for (const bad of [
      '10.2.0/16',
      '10.2.0.256/32',
      '10.02.0.0/16',
      '10.2.0.0/',
      '10.2.0.0/8/1',
      '::1/128',
    ]) {
      expect(typeof parsePrefix(bad)).toBe('string');
    }
  });
});
