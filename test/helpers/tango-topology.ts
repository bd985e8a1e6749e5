import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * host1 — t1 — N direct veth paths — t2 — host2, in four network namespaces with unique names,
 * for the Tango forwarder tests (needs root). host1 is 10.1.0.2/24 behind t1 (10.1.0.1), host2
 * 10.2.0.2/24 behind t2 (10.2.0.1); path i is veth pi<id>a (t1, fd00:<i>::1, MAC 02:00:00:00:<i>:0a)
 * <-> pi<id>b (t2, fd00:<i>::2, MAC ...:0b). The tunnel routes (via each side's TUN) are added by
 * the caller once its forwarders have made the TUNs.
 */

export const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
export const ip = (...args: string[]) => sh('ip', args);
export const inNs = (ns: string, cmd: string, args: string[]) =>
  sh('ip', ['netns', 'exec', ns, cmd, ...args]);

export interface TangoTopology {
  id: string;
  ns: { host1: string; t1: string; t2: string; host2: string };
  paths: Array<{
    pathId: number;
    t1If: string;
    t2If: string;
    t1Addr: string;
    t2Addr: string;
    t1Mac: string;
    t2Mac: string;
  }>;
  destroy(): void;
}

export function buildTangoTopology(pathCount: number): TangoTopology {
  const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`
    .slice(-6)
    .padStart(6, '0');
  const ns = {
    host1: `wftg-h1-${id}`,
    t1: `wftg-t1-${id}`,
    t2: `wftg-t2-${id}`,
    host2: `wftg-h2-${id}`,
  };
  const paths = Array.from({ length: pathCount }, (_, pathId) => ({
    pathId,
    t1If: `p${pathId}${id}a`,
    t2If: `p${pathId}${id}b`,
    t1Addr: `fd00:${pathId}::1`,
    t2Addr: `fd00:${pathId}::2`,
    t1Mac: `02:00:00:00:0${pathId}:0a`,
    t2Mac: `02:00:00:00:0${pathId}:0b`,
  }));
  const destroy = () => {
    for (const name of Object.values(ns)) {
      try {
        ip('netns', 'del', name);
      } catch {
        // not made yet
      }
    }
  };
  try {
    for (const name of Object.values(ns)) ip('netns', 'add', name);
    const link = (a: string, nsA: string, b: string, nsB: string) => {
      ip('link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
    };
    link(`h1${id}`, ns.host1, `s1${id}`, ns.t1);
    link(`h2${id}`, ns.host2, `s2${id}`, ns.t2);
    const up = (n: string, dev: string, addr: string) => {
      ip('-n', n, 'addr', 'add', addr, 'dev', dev);
      ip('-n', n, 'link', 'set', dev, 'up');
    };
    up(ns.host1, `h1${id}`, '10.1.0.2/24');
    up(ns.t1, `s1${id}`, '10.1.0.1/24');
    up(ns.host2, `h2${id}`, '10.2.0.2/24');
    up(ns.t2, `s2${id}`, '10.2.0.1/24');
    ip('-n', ns.host1, 'route', 'add', 'default', 'via', '10.1.0.1');
    ip('-n', ns.host2, 'route', 'add', 'default', 'via', '10.2.0.1');
    for (const p of paths) {
      ip(
        'link',
        'add',
        p.t1If,
        'netns',
        ns.t1,
        'address',
        p.t1Mac,
        'type',
        'veth',
        'peer',
        'name',
        p.t2If,
        'netns',
        ns.t2,
        'address',
        p.t2Mac,
      );
      ip('-n', ns.t1, 'addr', 'add', `${p.t1Addr}/64`, 'dev', p.t1If, 'nodad');
      ip('-n', ns.t2, 'addr', 'add', `${p.t2Addr}/64`, 'dev', p.t2If, 'nodad');
      ip('-n', ns.t1, 'link', 'set', p.t1If, 'up');
      ip('-n', ns.t2, 'link', 'set', p.t2If, 'up');
    }
    for (const n of Object.values(ns)) ip('-n', n, 'link', 'set', 'lo', 'up');
    for (const n of [ns.t1, ns.t2]) inNs(n, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  } catch (error) {
    destroy();
    throw error;
  }
  return { id, ns, paths, destroy };
}

/** A UDP echo server on the given ports: prints one JSON line per datagram, and "ready". */
const ECHO_SCRIPT = `
const dgram = require('node:dgram');
const ports = JSON.parse(process.argv[1]);
let bound = 0;
for (const port of ports) {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    process.stdout.write(JSON.stringify({ port, from: rinfo.address, fromPort: rinfo.port, hex: msg.toString('hex') }) + '\\n');
    s.send(msg, rinfo.port, rinfo.address);
  });
  s.bind(port, () => { if (++bound === ports.length) process.stdout.write('ready\\n'); });
}
`;

export interface EchoServer {
  received: Array<{ port: number; from: string; fromPort: number; hex: string }>;
  stop(): void;
}

export async function startEchoServer(ns: string, ports: number[]): Promise<EchoServer> {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, '-e', ECHO_SCRIPT, JSON.stringify(ports)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const received: EchoServer['received'] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else received.push(JSON.parse(line));
    });
  });
  return { received, stop: () => child.kill() };
}

/**
 * Sends each payload (hex) from `srcPort` to host:port and waits for its echo (waitMs each);
 * prints the echoes as JSON hex strings (null for none).
 */
const CLIENT_SCRIPT = `
const dgram = require('node:dgram');
const [host, port, srcPort, payloads, waitMs] = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
s.bind(srcPort, async () => {
  const echoes = [];
  for (const hex of payloads) {
    const echo = new Promise((resolve) => {
      const t = setTimeout(() => { s.removeAllListeners('message'); resolve(null); }, waitMs);
      s.once('message', (m) => { clearTimeout(t); resolve(m.toString('hex')); });
    });
    s.send(Buffer.from(hex, 'hex'), port, host);
    echoes.push(await echo);
  }
  process.stdout.write(JSON.stringify(echoes));
  s.close();
});
`;

export function udpRoundTrips(
  ns: string,
  host: string,
  port: number,
  srcPort: number,
  payloads: Uint8Array[],
  waitMs = 5000,
): Array<string | null> {
  const hex = payloads.map((p) => Buffer.from(p).toString('hex'));
  return JSON.parse(
    inNs(ns, process.execPath, [
      '-e',
      CLIENT_SCRIPT,
      JSON.stringify([host, port, srcPort, hex, waitMs]),
    ]),
  );
}

/** ICMP echo requests with given payloads (no ping(8) here): prints the reply payloads, hex or null. */
const PING_SCRIPT = `
import json, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
host, payloads = sys.argv[1], json.loads(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
out = []
for seq, hexdata in enumerate(payloads):
    data = bytes.fromhex(hexdata)
    body = struct.pack('!BBHHH', 8, 0, 0, 0x7767, seq) + data
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    sock.sendto(body, (host, 0))
    got, deadline = None, time.time() + 5
    while got is None and time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try: pkt, addr = sock.recvfrom(65535)
        except socket.timeout: break
        icmp = pkt[(pkt[0] & 15) * 4:]
        if addr[0] == host and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (0x7767, seq):
            got = icmp[8:].hex()
    out.append(got)
print(json.dumps(out))
`;

export function pings(ns: string, host: string, payloads: Uint8Array[]): Array<string | null> {
  const hex = payloads.map((p) => Buffer.from(p).toString('hex'));
  return JSON.parse(inNs(ns, 'python3', ['-c', PING_SCRIPT, host, JSON.stringify(hex)]));
}

/**
 * Waits on an interface (AF_PACKET) for one incoming Tango frame whose inner packet has the
 * route-update encoding (UDP ports < 16 and < 8): prints "ready", then the frame in hex.
 */
const CAPTURE_UPDATE_SCRIPT = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((sys.argv[1], 0))
print('ready', flush=True)
while True:
    f, addr = s.recvfrom(65535)
    if addr[2] != socket.PACKET_HOST or len(f) < 14 + 40 + 8 + 10 + 28: continue
    if f[20] != 17 or struct.unpack('!H', f[56:58])[0] != 61042: continue
    inner = f[72:]
    sport, dport = struct.unpack('!HH', inner[20:24])
    if inner[9] == 17 and sport < 16 and dport < 8:
        print(f.hex(), flush=True)
        break
`;

export interface UpdateCapture {
  ready: Promise<void>;
  frame: Promise<string>;
}

export function captureRouteUpdate(ns: string, ifname: string): UpdateCapture {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', CAPTURE_UPDATE_SCRIPT, ifname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const frame = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`capture exited with ${code}`)));
    lines.on('line', (line) => (line === 'ready' ? onReady() : resolve(line)));
  });
  return { ready, frame };
}

/** Receives `count` UDP datagrams on a port with IP_RECVTOS: prints "ready", then per datagram
 * a JSON line {tos, hex}. */
const TOS_RECEIVER_SCRIPT = `
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
print('ready', flush=True)
for _ in range(int(sys.argv[2])):
    data, anc, flags, addr = s.recvmsg(65535, 64)
    tos = [c[2][0] for c in anc if c[0] == socket.IPPROTO_IP and c[1] == socket.IP_TOS]
    print(json.dumps({'tos': tos[0] if tos else None, 'hex': data.hex()}), flush=True)
`;

export interface TosReceiver {
  ready: Promise<void>;
  received: Array<{ tos: number | null; hex: string }>;
  stop(): void;
}

export function receiveWithTos(ns: string, port: number, count: number): TosReceiver {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'python3', '-c', TOS_RECEIVER_SCRIPT, String(port), String(count)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const received: TosReceiver['received'] = [];
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    lines.on('line', (line) => (line === 'ready' ? resolve() : received.push(JSON.parse(line))));
  });
  return { ready, received, stop: () => child.kill() };
}

/** Writes one Ethernet frame (hex) out of an interface with an AF_PACKET socket. */
export function injectFrame(ns: string, ifname: string, hex: string): void {
  inNs(ns, 'python3', [
    '-c',
    'import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.send(bytes.fromhex(sys.argv[2]))',
    ifname,
    hex,
  ]);
}

/** Polls `probe` until it returns true (each step 20 ms), failing with `what` after `limitMs`. */
export async function eventually(
  what: string,
  probe: () => boolean,
  limitMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
