import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveEpochKey, TangoNode } from '../native/tango.js';
import { TangoForwarder } from '../native/tango-forwarder.js';
import { buildTangoTopology, type TangoTopology } from '../test/helpers/tango-topology.js';
import type { BenchRow } from './stats.js';
import { buildUdpFlood, ip, sh } from './veth-flood.js';

/**
 * `npm run bench -- tango`: host1 — t1 — one veth path — t2 — host2 (namespaces, root), three
 * ways across the same veth in alternating rounds:
 * - tango: our forwarder pair (TUN in, AF_PACKET out, SipHash tags, replay window, per-path
 *   measurement) carrying the inner IPv4 packets;
 * - kernel: the kernel's IPv4-in-IPv6 tunnel (ip6tnl, mode ipip6), without authentication or
 *   measurement; where the kernel lacks ip6tnl (this machine's 6.18 has no tunnel modules but
 *   VXLAN), VXLAN over the same IPv6 addresses, the kernel's IPv6 UDP tunnel;
 * - plain: IPv4 routed over the veth with no tunnel, the floor for added latency.
 * Throughput: a C sender floods 18-byte UDP payloads from host1 at full speed for SECONDS; what
 * reaches host2's interface is counted (see FLOOD_TARGET). Latency: 200 UDP echo probes host1 -> host2 -> host1,
 * one at a time 5 ms apart, round-trip time.
 */

const SECONDS = 3;
/**
 * The flood's destination: an address on host2's link whose neighbour entry (on t2) is a foreign
 * MAC. Every frame still crosses the tunnel and reaches host2's interface, where it is counted
 * and dropped at once (not for this host), so host2 sends no ICMP port-unreachable back through
 * the tunnel for each one.
 */
const FLOOD_TARGET = '10.2.0.9';
const ROUNDS = 3;
const PINGS = 200;
type Mode = 'tango' | 'kernel' | 'plain';
const MODES: Mode[] = ['tango', 'kernel', 'plain'];
type KernelTunnel = 'ip6tnl' | 'vxlan';

interface Trial {
  mode: Mode;
  sentPps: number;
  deliveredPps: number;
  rttAvgMs: number;
  rttMinMs: number;
}

const inNs = (ns: string, cmd: string, args: string[]) =>
  sh('ip', ['netns', 'exec', ns, cmd, ...args]);

function rxPackets(ns: string, dev: string): number {
  const [link] = JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', 'dev', dev)) as Array<{
    stats64: { rx: { packets: number } };
  }>;
  return link!.stats64.rx.packets;
}

/** UDP echo on host2 (port 7), for the latency probes. */
const ECHO = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(7, () => process.stdout.write('ready\\n'));`;

/** One probe at a time, 5 ms apart: RTTs in ms of those answered within a second. */
const PROBE = `const s = require('node:dgram').createSocket('udp4');
const [host, n] = [process.argv[1], Number(process.argv[2])];
const rtts = [];
let i = 0, sentAt = 0n, timer;
const next = () => {
  if (i++ >= n) { process.stdout.write(JSON.stringify(rtts)); s.close(); return; }
  sentAt = process.hrtime.bigint();
  s.send(Buffer.from(String(i)), 7, host);
  timer = setTimeout(next, 1000);
};
s.on('message', () => {
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
  clearTimeout(timer);
  setTimeout(next, 5);
});
next();`;

function probeRtt(ns: string, to: string): { avg: number; min: number } {
  const rtts = JSON.parse(inNs(ns, process.execPath, ['-e', PROBE, to, String(PINGS)])) as number[];
  if (rtts.length < PINGS / 2) throw new Error(`latency probes: ${rtts.length}/${PINGS} answered`);
  return { avg: median(rtts), min: Math.min(...rtts) };
}

/** The forwarder pair over path 0, started in t1 and t2. */
function startTango(topo: TangoTopology): { stop(): Promise<void> } {
  const secret = randomBytes(32);
  const epoch = Math.floor(Date.now() / 3_600_000);
  const key = deriveEpochKey(secret, epoch);
  const p = topo.paths[0]!;
  const ends = [
    {
      side: 0 as const,
      ns: topo.ns.t1,
      local: [p.t1Addr, p.t1Mac, p.t1If],
      peer: [p.t2Addr, p.t2Mac],
      to: '10.2.0.0/24',
    },
    {
      side: 1 as const,
      ns: topo.ns.t2,
      local: [p.t2Addr, p.t2Mac, p.t2If],
      peer: [p.t1Addr, p.t1Mac],
      to: '10.1.0.0/24',
    },
  ];
  const running = ends.map((end) => {
    const node = new TangoNode({ side: end.side });
    node.setPath({
      pathId: 0,
      localAddress: end.local[0]!,
      peerAddress: end.peer[0]!,
      localMac: end.local[1]!,
      nextHopMac: end.peer[1]!,
    });
    node.setSendKey(epoch, key);
    node.rotateReceiveKey(epoch, key);
    const tun = `wtb${end.side}${topo.id}`;
    const forwarder = TangoForwarder.start({
      node,
      tunName: tun,
      paths: [{ pathId: 0, interface: end.local[2]! }],
      netns: end.ns,
    });
    ip('-n', end.ns, 'link', 'set', tun, 'up');
    ip('-n', end.ns, 'route', 'replace', end.to, 'dev', tun);
    return { node, forwarder };
  });
  return {
    stop: async () => {
      for (const r of running) {
        await r.forwarder.stop();
        r.node.close();
      }
    },
  };
}

/** Which kernel IPv6 tunnel this kernel has: ip6tnl where it exists, else VXLAN over IPv6. */
function kernelTunnelKind(topo: TangoTopology): KernelTunnel {
  const p = topo.paths[0]!;
  try {
    const probe = `ip6p${topo.id}`;
    ip(
      '-n',
      topo.ns.t1,
      'link',
      'add',
      probe,
      'type',
      'ip6tnl',
      'mode',
      'ipip6',
      'local',
      p.t1Addr,
      'remote',
      p.t2Addr,
    );
    ip('-n', topo.ns.t1, 'link', 'del', probe);
    return 'ip6tnl';
  } catch {
    return 'vxlan';
  }
}

/** The kernel tunnel over path 0, or plain IPv4 routes over it. */
function kernelRoutes(topo: TangoTopology, mode: 'kernel' | 'plain', kind: KernelTunnel): void {
  const p = topo.paths[0]!;
  if (mode === 'plain') {
    ip('-n', topo.ns.t1, 'route', 'replace', '10.2.0.0/24', 'via', '10.99.0.2');
    ip('-n', topo.ns.t2, 'route', 'replace', '10.1.0.0/24', 'via', '10.99.0.1');
    return;
  }
  const tnl = `ktb${topo.id}`;
  for (const [ns, dev, local, remote, to, inner, peerInner] of [
    [topo.ns.t1, p.t1If, p.t1Addr, p.t2Addr, '10.2.0.0/24', '10.98.0.1/30', '10.98.0.2'],
    [topo.ns.t2, p.t2If, p.t2Addr, p.t1Addr, '10.1.0.0/24', '10.98.0.2/30', '10.98.0.1'],
  ] as const) {
    const type =
      kind === 'ip6tnl' ? ['ip6tnl', 'mode', 'ipip6'] : ['vxlan', 'id', '42', 'dstport', '4789'];
    ip('-n', ns, 'link', 'add', tnl, 'type', ...type, 'local', local, 'remote', remote, 'dev', dev);
    if (kind === 'vxlan') ip('-n', ns, 'addr', 'add', inner, 'dev', tnl);
    ip('-n', ns, 'link', 'set', tnl, 'up');
    if (kind === 'ip6tnl') ip('-n', ns, 'route', 'replace', to, 'dev', tnl);
    else ip('-n', ns, 'route', 'replace', to, 'via', peerInner);
  }
}

function removeKernelRoutes(topo: TangoTopology, mode: 'kernel' | 'plain'): void {
  for (const [ns, to] of [
    [topo.ns.t1, '10.2.0.0/24'],
    [topo.ns.t2, '10.1.0.0/24'],
  ] as const) {
    ip('-n', ns, 'route', 'del', to);
    if (mode === 'kernel') ip('-n', ns, 'link', 'del', `ktb${topo.id}`);
  }
}

async function trial(
  topo: TangoTopology,
  mode: Mode,
  sender: string,
  kind: KernelTunnel,
): Promise<Trial> {
  const tango = mode === 'tango' ? startTango(topo) : undefined;
  if (mode !== 'tango') kernelRoutes(topo, mode, kind);
  try {
    const rtt = probeRtt(topo.ns.host1, '10.2.0.2');
    const h2 = `h2${topo.id}`;
    const before = rxPackets(topo.ns.host2, h2);
    const [sent, seconds] = inNs(topo.ns.host1, sender, [FLOOD_TARGET, String(SECONDS), '0'])
      .trim()
      .split(' ')
      .map(Number);
    // Let what is still queued arrive before counting.
    await new Promise((r) => setTimeout(r, 300));
    const delivered = rxPackets(topo.ns.host2, h2) - before;
    return {
      mode,
      sentPps: sent! / seconds!,
      deliveredPps: delivered / seconds!,
      rttAvgMs: rtt.avg,
      rttMinMs: rtt.min,
    };
  } finally {
    await tango?.stop();
    if (mode !== 'tango') removeKernelRoutes(topo, mode);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export async function tangoBench(report: (row: BenchRow) => void = () => {}): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) {
    const row = {
      name: 'tango',
      value: Number.NaN,
      unit: '',
      note: 'skipped: needs root (namespaces)',
    };
    report(row);
    return [row];
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-bench-'));
  const topo = buildTangoTopology(1);
  let stopEcho = () => {};
  try {
    const sender = buildUdpFlood(tmp);
    const p = topo.paths[0]!;
    ip('-n', topo.ns.t1, 'addr', 'add', '10.99.0.1/30', 'dev', p.t1If);
    ip('-n', topo.ns.t2, 'addr', 'add', '10.99.0.2/30', 'dev', p.t2If);
    ip(
      '-n',
      topo.ns.t2,
      'neigh',
      'replace',
      FLOOD_TARGET,
      'lladdr',
      '02:00:00:00:00:09',
      'dev',
      `s2${topo.id}`,
      'nud',
      'permanent',
    );
    const echo = spawn('ip', ['netns', 'exec', topo.ns.host2, process.execPath, '-e', ECHO], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      echo.stdout!.once('data', () => resolve());
      echo.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    stopEcho = () => echo.kill();
    const kind = kernelTunnelKind(topo);
    const label = (mode: Mode) => (mode === 'kernel' ? `kernel ${kind}` : mode);
    const trials: Trial[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) trials.push(await trial(topo, mode, sender, kind));
    }
    const of = (mode: Mode, f: (t: Trial) => number) =>
      median(trials.filter((t) => t.mode === mode).map(f));
    const rows: BenchRow[] = [];
    const add = (row: BenchRow) => {
      rows.push(row);
      report(row);
    };
    const note = `${ROUNDS} alternating rounds, median; 18-byte UDP payloads from host1 at full speed for ${SECONDS} s, counted at host2`;
    for (const mode of MODES) {
      add({
        name: `tango bench: ${label(mode)} forwarded`,
        value: Math.round(of(mode, (t) => t.deliveredPps)),
        unit: 'packets/s',
        note: `${note}; the sender managed ${Math.round(of(mode, (t) => t.sentPps)).toLocaleString('en-US')}/s`,
      });
    }
    add({
      name: `tango bench: tango / kernel ${kind} forwarded`,
      value: of('tango', (t) => t.deliveredPps) / of('kernel', (t) => t.deliveredPps),
      unit: '×',
      note:
        kind === 'ip6tnl'
          ? 'packets/s ratio, same veth, same run'
          : 'packets/s ratio, same veth, same run; this kernel has no ip6tnl, so the kernel peer is VXLAN over IPv6 (UDP 4789)',
    });
    for (const mode of MODES) {
      add({
        name: `tango bench: ${label(mode)} RTT host1 -> host2`,
        value: of(mode, (t) => t.rttAvgMs),
        unit: 'ms',
        note: `${PINGS} UDP echo probes 5 ms apart (Node on both ends), median (min ${of(mode, (t) => t.rttMinMs).toFixed(3)} ms), median of rounds`,
      });
    }
    for (const mode of ['tango', 'kernel'] as const) {
      add({
        name: `tango bench: ${label(mode)} added RTT over plain routing`,
        value: (of(mode, (t) => t.rttMinMs) - of('plain', (t) => t.rttMinMs)) * 1000,
        unit: 'µs',
        note: 'minimum RTT through the pair of tunnel ends (both directions) minus plain routing; minima, as the echo in Node is noisier than the tunnels',
      });
    }
    return rows;
  } finally {
    stopEcho();
    topo.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
}
