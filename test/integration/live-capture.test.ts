import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFilter, FilterError } from '../../native/capture.js';
import { captureBackends, FlowMeter, type FlowRecord } from '../../native/index.js';
import { UDP_SENDER_SCRIPT } from '../helpers/udp-sender.js';

// Live capture end to end: two network namespaces joined by a veth pair (plus an 802.1Q
// sub-interface on each end); `wirefleet capture` runs in one namespace with a BPF filter and
// --write, traffic comes from the other. The same scenario runs through both capture backends
// (--backend afpacket, our TPACKET_V3 ring, and --backend libpcap), with the same assertions. Needs root (netns, veth, AF_PACKET): it fails, not
// skips, without it, so a CI runner that lost its privileges is noticed.

const CLI = path.resolve('bin/wirefleet.js');
const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT =
  'live-capture tests need root (CAP_SYS_ADMIN for network namespaces and veth, CAP_NET_RAW for AF_PACKET): run vitest as root';

const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`
  .slice(-6)
  .padStart(6, '0');
const nsA = `wfcap-a-${id}`;
const nsB = `wfcap-b-${id}`;
const vethA = `wfa${id}`; // interface names: at most 15 characters
const vethB = `wfb${id}`;
const VLAN = 100;
const x = 1 + (process.pid % 250);
const y = Math.floor(Math.random() * 250);
const addrA = `10.${x}.${y}.1`;
const addrB = `10.${x}.${y}.2`;
const vlanAddrA = `10.${x}.${y + 1}.1`;
const vlanAddrB = `10.${x}.${y + 1}.2`;

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ip = (...args: string[]) => sh('ip', args);
const inNs = (ns: string, cmd: string, args: string[]) =>
  sh('ip', ['netns', 'exec', ns, cmd, ...args]);

function macOf(ns: string, dev: string): string {
  const [link] = JSON.parse(ip('-n', ns, '-j', 'link', 'show', dev)) as { address: string }[];
  return link!.address;
}

function hasCommand(name: string): boolean {
  try {
    sh('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

// ICMP echo requests without ping(8): a raw socket in Python.
const PINGER = `
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(1)
for seq in range(int(sys.argv[2])):
    body = struct.pack('!BBHHH', 8, 0, 0, 0x77, seq) + b'wirefleet-ping'
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    sock.sendto(body, (sys.argv[1], 0))
    try: sock.recv(1024)
    except socket.timeout: pass
`;

// 802.1Q-tagged IPv4/UDP frames written to an AF_PACKET socket (this CI kernel may lack the
// 8021q module, so no VLAN device). The receiving veth end strips the tag into the packet's
// metadata before taps see it, exactly as with a VLAN-offloading NIC: the capture must rebuild it.
// argv: ifname dst_mac src_mac vlan src_ip dst_ip dst_port sizes_json
const TAGGED = `
import json, socket, struct, sys
ifname, dst, src, vlan, sip, dip, port, sizes = sys.argv[1:9]
mac = lambda m: bytes(int(b, 16) for b in m.split(':'))
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((ifname, 0))
for i, size in enumerate(json.loads(sizes)):
    udp = struct.pack('!HHHH', 40000, int(port), 8 + size, 0) + bytes([i & 255]) * size
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + size, i, 0, 64, 17, 0,
                     socket.inet_aton(sip), socket.inet_aton(dip))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    sock.send(mac(dst) + mac(src) + struct.pack('!HHH', 0x8100, int(vlan), 0x0800) + ip + udp)
`;

function sendPings(ns: string, host: string, count: number): string {
  if (hasCommand('ping')) {
    inNs(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '1', host]);
    return 'ping';
  }
  inNs(ns, 'python3', ['-c', PINGER, host, String(count)]);
  return 'python3';
}

interface CaptureRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `wirefleet capture` inside namespace A and waits until it listens. */
async function startCapture(args: string[]): Promise<CaptureRun> {
  const child = spawn('ip', ['netns', 'exec', nsA, process.execPath, CLI, 'capture', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`capture did not start:\n${err}`)), 30_000);
    const check = () => {
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`capture exited with ${code} before listening:\n${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Runs the CLI to completion in namespace A; returns exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', nsA, process.execPath, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const doneField = (stderr: string, name: string): number => {
  const done = stderr.split('\n').find((l) => l.startsWith('wirefleet capture: done'));
  if (!done) throw new Error(`no summary line in:\n${stderr}`);
  const m = new RegExp(`\\b${name}=([0-9.]+)`).exec(done);
  if (!m) throw new Error(`no ${name} in ${done}`);
  return Number(m[1]);
};

describe('BPF filter compilation (libpcap via dlopen)', () => {
  it('compiles a valid expression to instructions', () => {
    expect(compileFilter('tcp port 443')).toBeGreaterThan(4);
    expect(compileFilter('udp port 9999 or (vlan and udp port 9999)')).toBeGreaterThan(4);
  });

  it('throws a clear message for an expression that does not compile', () => {
    expect(() => compileFilter('tcp port banana')).toThrow(FilterError);
    expect(() => compileFilter('tcp port banana')).toThrow(/^filter "tcp port banana": .*banana/);
  });

  it('lists afpacket and libpcap as available, libpcap with its version', () => {
    const backends = captureBackends();
    const afpacket = backends.find((b) => b.name === 'afpacket')!;
    expect(afpacket.status).toBe('available');
    expect(afpacket.detail).toMatch(/TPACKET_V3.*fanout.*BPF via libpcap; filters available/);
    const libpcap = backends.find((b) => b.name === 'libpcap')!;
    expect(libpcap.status).toBe('available');
    expect(libpcap.detail).toMatch(/^libpcap version \d+\.\d+/);
  });
});

describe('live capture on a veth pair between two network namespaces', () => {
  let created = false;
  let tmp = '';
  let macA = '';
  let macB = '';

  beforeAll(() => {
    if (!isRoot) throw new Error(NEEDS_ROOT);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'wf-live-'));
    created = true;
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    for (const [ns, dev, addr] of [
      [nsA, vethA, addrA],
      [nsB, vethB, addrB],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    // Static neighbours: no ARP round trip, so no datagram waits (or is dropped) unresolved.
    macA = macOf(nsA, vethA);
    macB = macOf(nsB, vethB);
    ip('-n', nsB, 'neigh', 'replace', addrA, 'lladdr', macA, 'dev', vethB, 'nud', 'permanent');
    ip('-n', nsA, 'neigh', 'replace', addrB, 'lladdr', macB, 'dev', vethA, 'nud', 'permanent');
  });

  afterAll(() => {
    if (!created) return;
    // Deleting a namespace deletes the veth end in it, and so the pair.
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not created
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it.each(['afpacket', 'libpcap'])(
    'captures exactly the filtered UDP traffic, with VLAN tags, counts and a readable pcap (--backend %s)',
    async (backend) => {
      const pcapPath = path.join(tmp, `capture-${backend}.pcap`);
      const allPath = path.join(tmp, `all-${backend}.pcap`);
      // tcpdump without a filter next to us: proof that the 8888 and ICMP traffic was on the wire.
      const tcpdump = spawn(
        'ip',
        ['netns', 'exec', nsA, 'tcpdump', '-i', vethA, '-U', '-n', '-w', allPath],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let tcpdumpErr = '';
      tcpdump.stderr.on('data', (d) => {
        tcpdumpErr += d;
      });
      const tcpdumpExit = new Promise((resolve) => tcpdump.once('exit', resolve));
      const capture = await startCapture([
        '--backend',
        backend,
        '--interface',
        vethA,
        '--seconds',
        '5',
        '--filter',
        'udp port 9999',
        '--write',
        pcapPath,
      ]);
      for (let i = 0; i < 100 && !tcpdumpErr.includes('listening on'); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }

      const n9999 = 150;
      const n8888 = 40;
      const nVlan = 25;
      const sizes = (n: number, seed: number) =>
        Array.from({ length: n }, (_, i) => 1 + ((i * 37 + seed) % 1400));
      const plan = [
        { host: addrA, port: 9999, count: n9999, sizes: sizes(n9999, 3) },
        { host: addrA, port: 8888, count: n8888, sizes: sizes(n8888, 5) },
      ];
      const vlanSizes = sizes(nVlan, 11);
      inNs(nsB, process.execPath, ['-e', UDP_SENDER_SCRIPT, JSON.stringify(plan)]);
      inNs(nsB, 'python3', [
        '-c',
        TAGGED,
        vethB,
        macA,
        macB,
        String(VLAN),
        vlanAddrB,
        vlanAddrA,
        '9999',
        JSON.stringify(vlanSizes),
      ]);
      const pinger = sendPings(nsB, addrA, 3);

      const code = await capture.exit;
      tcpdump.kill('SIGINT');
      await tcpdumpExit;
      expect(code, capture.stderr()).toBe(0);
      expect(capture.stderr()).toContain(
        `listening on ${vethA} (${backend}, filter "udp port 9999"`,
      );

      // The flows: exactly the port-9999 traffic, one plain and one on VLAN 100.
      const flows = capture
        .stdout()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FlowRecord);
      const ipBytes = (list: number[]) => list.reduce((sum, n) => sum + 20 + 8 + n, 0);
      expect(flows.filter((f) => f.protocol !== 17)).toEqual([]);
      expect(flows.filter((f) => f.src_port === 8888 || f.dst_port === 8888)).toEqual([]);
      expect(flows).toHaveLength(2);
      const plain = flows.find((f) => f.vlan_id === 0)!;
      const tagged = flows.find((f) => f.vlan_id === VLAN)!;
      expect(plain).toMatchObject({
        src_ip: addrB,
        dst_ip: addrA,
        dst_port: 9999,
        protocol: 17,
        packets: n9999,
        packets_fwd: n9999,
        packets_rev: 0,
        bytes: ipBytes(plan[0]!.sizes),
        end_reason: 'end_of_capture',
      });
      expect(tagged).toMatchObject({
        src_ip: vlanAddrB,
        dst_ip: vlanAddrA,
        dst_port: 9999,
        packets: nVlan,
        bytes: ipBytes(vlanSizes),
      });

      // Counters: every packet delivered, none dropped by the kernel.
      const stderr = capture.stderr();
      expect(stderr).toMatch(
        /wirefleet capture: packets=\d+ bytes=\d+ kernel_drops=\d+ pps=\d+ mbps=[0-9.]+ buffer=[0-9.]+% flows=\d+/,
      );
      expect(doneField(stderr, 'packets')).toBe(n9999 + nVlan);
      expect(doneField(stderr, 'kernel_drops')).toBe(0);
      expect(doneField(stderr, 'kernel_packets')).toBe(n9999 + nVlan);
      expect(doneField(stderr, 'pcap_packets')).toBe(n9999 + nVlan);

      // The pcap: tcpdump reads the same packets, VLAN tags included...
      const listing = execFileSync('tcpdump', ['-nn', '-e', '-r', pcapPath], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .trim()
        .split('\n');
      expect(listing).toHaveLength(n9999 + nVlan);
      expect(listing.filter((l) => l.includes(`vlan ${VLAN}`))).toHaveLength(nVlan);
      expect(listing.every((l) => l.includes('.9999:'))).toBe(true);
      // ...and so does our own file reader, to the same flows.
      const meter = new FlowMeter();
      const fromFile: FlowRecord[] = [];
      meter.meterFile(pcapPath, (batch) => fromFile.push(...batch));
      expect(meter.stats().packets).toBe(n9999 + nVlan);
      meter.close();
      expect(fromFile.map((f) => [f.vlan_id, f.packets, f.bytes]).sort()).toEqual(
        flows.map((f) => [f.vlan_id, f.packets, f.bytes]).sort(),
      );

      // The unfiltered tcpdump saw what our filter had to leave out.
      const all = execFileSync('tcpdump', ['-nn', '-r', allPath], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      expect(all.split('\n').filter((l) => l.includes('.8888:')).length).toBe(n8888);
      expect(all).toMatch(pinger === 'ping' || pinger === 'python3' ? /ICMP echo request/ : /ICMP/);
      console.info(
        `live capture (${backend}): ${n9999 + nVlan} packets captured and written, kernel_drops=0; filtered out ${n8888} UDP/8888 and ICMP (pings via ${pinger})`,
      );
    },
  );

  it('exits 2 with one line for a bad interface, a bad filter, an unknown backend or no privileges', async () => {
    const badIf = await runCli(['capture', '--interface', 'wf-nope0', '--seconds', '1']);
    expect(badIf.code).toBe(2);
    expect(badIf.stderr).toBe('wirefleet: no such interface "wf-nope0"\n');

    const badFilter = await runCli([
      'capture',
      '--interface',
      vethA,
      '--filter',
      'tcp port banana',
    ]);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toMatch(/^wirefleet: filter "tcp port banana": [^\n]*banana[^\n]*\n$/);

    const badBackend = await runCli(['capture', '--interface', vethA, '--backend', 'xdp']);
    expect(badBackend.code).toBe(2);
    expect(badBackend.stderr).toBe('wirefleet: --backend must be afpacket or libpcap, got "xdp"\n');

    // The same one-line errors through libpcap.
    const pcapBadIf = await runCli([
      'capture',
      '--backend',
      'libpcap',
      '--interface',
      'wf-nope0',
      '--seconds',
      '1',
    ]);
    expect(pcapBadIf.code).toBe(2);
    expect(pcapBadIf.stderr).toBe('wirefleet: no such interface "wf-nope0"\n');
    const pcapBadFilter = await runCli([
      'capture',
      '--backend',
      'libpcap',
      '--interface',
      vethA,
      '--filter',
      'tcp port banana',
    ]);
    expect(pcapBadFilter.code).toBe(2);
    expect(pcapBadFilter.stderr).toMatch(
      /^wirefleet: filter "tcp port banana": [^\n]*banana[^\n]*\n$/,
    );

    // Without CAP_NET_RAW (an unprivileged uid, no capabilities).
    if (hasCommand('setpriv')) {
      for (const backend of ['afpacket', 'libpcap']) {
        const unprivileged = await new Promise<{ code: number | null; stderr: string }>(
          (resolve) => {
            const child = spawn(
              'ip',
              [
                'netns',
                'exec',
                nsA,
                'setpriv',
                '--reuid=65534',
                '--regid=65534',
                '--clear-groups',
                '--inh-caps=-all',
                process.execPath,
                CLI,
                'capture',
                '--backend',
                backend,
                '--interface',
                vethA,
                '--seconds',
                '1',
              ],
              { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: tmp } },
            );
            let stderr = '';
            child.stderr.on('data', (d) => {
              stderr += d;
            });
            child.once('exit', (code) => resolve({ code, stderr }));
          },
        );
        expect(unprivileged.stderr, backend).toMatch(
          /^wirefleet: capture on \S+ needs CAP_NET_RAW[^\n]*\n$/,
        );
        expect(unprivileged.code, backend).toBe(2);
      }
    }
  });

  it.each(['afpacket', 'libpcap'])(
    'refuses adapter timestamps on a NIC that cannot (veth) with a clear error (%s)',
    (backend) => {
      // Through the library: the CLI has no timestamp flag.
      const script = `
      const { LiveCapture, CaptureOpenError } = await import(${JSON.stringify(path.resolve('native/capture.ts'))});
      try { new LiveCapture({ interface: ${JSON.stringify(vethA)}, backend: ${JSON.stringify(backend)}, timestampSource: 'adapter' }); console.log('opened'); }
      catch (e) { console.log(e instanceof CaptureOpenError ? e.reason + ' ' + e.message : 'other ' + e); }`;
      const out = inNs(nsA, process.execPath, [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ]);
      expect(out).toMatch(
        /^EOPNOTSUPP interface \S+ cannot timestamp received packets in hardware/,
      );
    },
  );
});
