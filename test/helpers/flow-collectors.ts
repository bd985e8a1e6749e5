import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TCP_FLAGS } from '../../protocol/tcp.js';
import { type Frame, packet, TcpConversation } from './capture-gen.js';

/**
 * Real NetFlow/IPFIX collectors for the export tests: nfcapd (nfdump 1.7) started on
 * a free loopback port, its file read back with nfdump, plus the CLI and softflowd
 * as exporters. Nothing is skipped: a missing tool is a failure that says what to install.
 */

export const INSTALL_HINT = 'apt-get install nfdump softflowd';

/** Throws unless nfcapd, nfdump and softflowd are on PATH. */
export function requireFlowTools(): void {
  for (const tool of ['nfcapd', 'nfdump', 'softflowd']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
    if (!found) throw new Error(`${tool} not found: ${INSTALL_HINT}`);
  }
}

/** A UDP port free on 127.0.0.1 right now. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface Nfcapd {
  port: number;
  dir: string;
  /**
   * SIGTERM, wait for exit; returns every file nfcapd wrote (oldest first) and its output.
   * nfcapd rotates at wall-clock boundaries (the top of the hour with -t 3600), so a run
   * that crosses one leaves two files: read them all.
   */
  stop(): Promise<{ files: string[]; log: string }>;
  kill(): void;
}

/** nfcapd's finished files: nfcapd.YYYYMMDDhhmm, with ss when it rotates more often than each minute. */
export const NFCAPD_FILE = /^nfcapd\.\d{12}(\d\d)?$/;

/**
 * `nfcapd -w DIR -p PORT -b 127.0.0.1 -t 3600`, resolved once it listens. The rotation
 * follows the wall clock (files start at multiples of the interval), so callers read every
 * file `stop()` returns.
 */
export async function startNfcapd(
  dir: string,
  options: { rotateSeconds?: number } = {},
): Promise<Nfcapd> {
  const port = await freeUdpPort();
  const rotate = String(options.rotateSeconds ?? 3600);
  const child: ChildProcess = spawn(
    'nfcapd',
    ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', rotate],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!/Startup nfcapd/.test(log)) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`nfcapd did not start on port ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    dir,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const files = readdirSync(dir)
        .filter((f) => NFCAPD_FILE.test(f))
        .sort();
      if (files.length === 0) throw new Error(`nfcapd left no file in ${dir}: ${log}`);
      return { files: files.map((f) => path.join(dir, f)), log };
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** One record as nfdump prints it (IPFIX biflow: out_* = the reverse direction). */
export interface NfRecord {
  startMs: number;
  endMs: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  flags: string;
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  vlan: number;
}

const PROTOCOLS: Record<string, number> = { ICMP: 1, TCP: 6, UDP: 17, ICMP6: 58 };
const FMT = 'fmt:%ts|%te|%sa|%da|%sp|%dp|%pr|%flg|%ipkt|%ibyt|%opkt|%obyt|%svln';

/** "2024-01-01 00:00:00.977" in UTC (nfdump runs with TZ=UTC) to epoch ms. */
function utcMs(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(text.trim());
  if (!m) throw new Error(`unexpected nfdump time "${text}"`);
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, ...number[]];
  return Date.UTC(y, mo! - 1, d, h, mi, s, ms);
}

/** nfdump prints ICMP's type/code port as "8.0": back to type << 8 | code. */
function icmpPort(text: string): number {
  const m = /^(\d+)\.(\d+)$/.exec(text);
  return m ? (Number(m[1]) << 8) | Number(m[2]) : Number(text);
}

/** Every record of the nfcapd files, in file order (`nfdump -r FILE -N -q -6 -o fmt:...`). */
export function readNfdump(files: string[]): NfRecord[] {
  return files.flatMap(readNfdumpFile);
}

function readNfdumpFile(file: string): NfRecord[] {
  const out = execFileSync('nfdump', ['-r', file, '-N', '-q', '-6', '-o', FMT], {
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 1024 * 1024 * 1024,
  }).toString();
  return (
    out
      .split('\n')
      // An empty file (a rotation with nothing in it) prints this even with -q.
      .filter((l) => l.trim() !== '' && l.trim() !== 'No matching flows')
      .map((line) => {
        const f = line.split('|').map((x) => x.trim());
        if (f.length !== 13) throw new Error(`unexpected nfdump line "${line}"`);
        const proto = /^\d+$/.test(f[6]!) ? Number(f[6]) : PROTOCOLS[f[6]!];
        if (proto === undefined) throw new Error(`unknown protocol "${f[6]}"`);
        return {
          startMs: utcMs(f[0]!),
          endMs: utcMs(f[1]!),
          src: f[2]!,
          dst: f[3]!,
          sport: Number(f[4]),
          dport: icmpPort(f[5]!),
          proto,
          flags: f[7]!,
          inPackets: Number(f[8]),
          inBytes: Number(f[9]),
          outPackets: Number(f[10]),
          outBytes: Number(f[11]),
          vlan: Number(f[12]),
        };
      })
  );
}

export interface NfStat {
  flows: number;
  packets: number;
  bytes: number;
  sequenceFailures: number;
}

/** The files' own statistics records (`nfdump -r FILE -I`), summed. */
export function nfdumpStat(files: string[]): NfStat {
  const total: NfStat = { flows: 0, packets: 0, bytes: 0, sequenceFailures: 0 };
  for (const file of files) {
    const one = nfdumpFileStat(file);
    total.flows += one.flows;
    total.packets += one.packets;
    total.bytes += one.bytes;
    total.sequenceFailures += one.sequenceFailures;
  }
  return total;
}

function nfdumpFileStat(file: string): NfStat {
  const out = execFileSync('nfdump', ['-r', file, '-I']).toString();
  const get = (name: string) => {
    const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(out);
    if (!m) throw new Error(`no "${name}" in nfdump -I output:\n${out}`);
    return Number(m[1]);
  };
  return {
    flows: get('Flows'),
    packets: get('Packets'),
    bytes: get('Bytes'),
    sequenceFailures: get('Sequence failures'),
  };
}

/** TCP flags byte as nfdump prints it: CEUAPRSF with '.' for clear bits. */
export function nfdumpFlags(flags: number): string {
  return 'CEUAPRSF'
    .split('')
    .map((c, i) => (flags & (0x80 >> i) ? c : '.'))
    .join('');
}

/** "SYN|ACK|FIN" (FlowRecord.tcp_flags) to the flags byte. */
export function flagsByte(text: string): number {
  return text === ''
    ? 0
    : text.split('|').reduce((b, n) => b | ((TCP_FLAGS as Record<string, number>)[n] ?? 0), 0);
}

/** Flows from `wirefleet flows` ndjson output. */
export function readNdjson<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Sorts frames by capture time, keeping the order of equal times (no huge spread either). */
export function byTime(frames: Frame[]): Frame[] {
  return frames
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.tsNs < b.f.tsNs ? -1 : a.f.tsNs > b.f.tsNs ? 1 : a.i - b.i))
    .map(({ f }) => f);
}

// ---- the CLI as exporter ----

export interface CliRun {
  code: number;
  stderr: string;
  /** key=value pairs of the stderr summary line. */
  summary: Record<string, number>;
}

/** `wirefleet ARGS` with stdout (the flows) written to `stdoutFile`. */
export function runCli(args: string[], stdoutFile: string): Promise<CliRun> {
  const out = openSync(stdoutFile, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve('bin/wirefleet.js'), ...args], {
      stdio: ['ignore', out, 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      closeSync(out);
      const summary: Record<string, number> = {};
      const line = stderr.split('\n').find((l) => l.startsWith('wirefleet flows:')) ?? '';
      for (const m of line.matchAll(/(\w+)=([\d.]+)/g)) summary[m[1]!] = Number(m[2]);
      resolve({ code: code ?? -1, stderr, summary });
    });
  });
}

// ---- captures ----

const { ACK, FIN, RST, PSH } = TCP_FLAGS;

/**
 * A few thousand flows of every kind the exporters map differently: IPv4 TCP (FIN and RST
 * endings, some on a VLAN), UDP both ways and one way, ICMP echo request/reply, IPv6 TCP and
 * UDP. Every flow has its own 5-tuple and no packet follows a flow's end, so any flow meter
 * (ours, softflowd) sees the same flows. Spans under 200 s: no idle timeout fires.
 */
export function mixedCapture(): Frame[] {
  const frames: Frame[] = [];
  const tcp = (i: number, client: string, server: string, t: number, vlan?: number) => {
    const conv = new TcpConversation({
      client,
      server,
      cport: 20000 + (i % 40000),
      sport: i % 3 ? 443 : 80,
      ...(vlan === undefined ? {} : { vlans: [vlan] }),
    });
    conv.handshake(t, 0.002);
    let tt = t + 0.01;
    for (let k = 0; k <= i % 5; k++) {
      conv.send('c', tt, ACK | PSH, 100 + ((i * 37 + k * 11) % 900));
      conv.send('s', tt + 0.001, ACK | PSH, 200 + ((i * 53 + k * 7) % 1200));
      tt += 0.003;
    }
    if (i % 10 === 9) conv.send('c', tt, RST | ACK);
    else conv.send('c', tt, FIN | ACK).send('s', tt + 0.001, FIN | ACK);
    for (const f of conv.frames) frames.push(f);
  };
  for (let i = 0; i < 2000; i++) {
    tcp(
      i,
      `10.1.${i >> 8}.${i & 255}`,
      `198.51.100.${1 + (i % 20)}`,
      (i % 1000) * 0.15 + (i >> 10) * 0.05,
      i % 7 === 0 ? 100 + (i % 50) : undefined,
    );
  }
  for (let i = 0; i < 1000; i++) {
    const client = `10.2.${i >> 8}.${i & 255}`;
    const t = i * 0.17 + 0.03;
    const sport = 10000 + i;
    frames.push(
      packet({
        t,
        src: client,
        dst: '203.0.113.53',
        l4: { proto: 'udp', sport, dport: 53, payload: 20 + (i % 60) },
      }),
    );
    if (i % 5 !== 0) {
      frames.push(
        packet({
          t: t + 0.004,
          src: '203.0.113.53',
          dst: client,
          l4: { proto: 'udp', sport: 53, dport: sport, payload: 60 + (i % 400) },
        }),
      );
    }
  }
  for (let i = 0; i < 200; i++) {
    const host = `10.3.0.${i + 1}`;
    const t = i * 0.9 + 0.07;
    frames.push(
      packet({
        t,
        src: host,
        dst: '192.0.2.9',
        l4: { proto: 'icmp', type: 8, code: 0, rest: i, payload: 56 },
      }),
    );
    frames.push(
      packet({
        t: t + 0.001,
        src: '192.0.2.9',
        dst: host,
        l4: { proto: 'icmp', type: 0, code: 0, rest: i, payload: 56 },
      }),
    );
  }
  for (let i = 0; i < 150; i++) {
    tcp(5000 + i, `2001:db8:1::${(i + 1).toString(16)}`, '2001:db8:2::1', i * 1.1 + 0.02);
    const client = `2001:db8:3::${(i + 1).toString(16)}`;
    const t = i * 1.2 + 0.05;
    frames.push(
      packet({
        t,
        src: client,
        dst: '2001:db8:2::53',
        l4: { proto: 'udp', sport: 40000 + i, dport: 53, payload: 30 },
      }),
    );
    frames.push(
      packet({
        t: t + 0.002,
        src: '2001:db8:2::53',
        dst: client,
        l4: { proto: 'udp', sport: 53, dport: 40000 + i, payload: 90 + i },
      }),
    );
  }
  return byTime(frames);
}

/** `n` UDP request/response flows (2 packets each), 2 ms apart. */
export function udpPairsCapture(n: number): Frame[] {
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 0.002;
    const client = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const sport = 1024 + (i % 60000);
    frames.push(
      packet({
        t,
        src: client,
        dst: '192.0.2.1',
        l4: { proto: 'udp', sport, dport: 53, payload: 30 + (i % 50) },
      }),
    );
    frames.push(
      packet({
        t: t + 0.0005,
        src: '192.0.2.1',
        dst: client,
        l4: { proto: 'udp', sport: 53, dport: sport, payload: 80 },
      }),
    );
  }
  return frames;
}
