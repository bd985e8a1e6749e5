import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImpairmentRelay,
  type RelayImpairment,
  RelayStartError,
} from '../../native/tango-relay.js';

// The impairment relay on real veths: namespace A — relay namespace R — namespace B, the relay
// (in this process, its thread joined to R with setns) bridging R's two veth ends. UDP datagrams
// carry a sequence number and the sender's CLOCK_MONOTONIC reading (process.hrtime, one clock for
// every namespace of the machine); the receiver in the other namespace notes its own reading on
// arrival. Measured delay, loss and reordering are compared with what the relay was told to do.
// Static neighbours: no ARP goes through the relay, and the receiving kernel takes the
// datagrams only because their MAC addresses arrived unchanged (the relay is transparent).
// Needs root (namespaces, veth, AF_PACKET); skipped otherwise.

const isRoot = process.getuid?.() === 0;
const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`.slice(
  -6,
);
const nsA = `wfrl-a-${id}`;
const nsR = `wfrl-r-${id}`;
const nsB = `wfrl-b-${id}`;
const ADDR_A = '10.77.0.1';
const ADDR_B = '10.77.0.2';
// A fixed port is safe here: it is bound only inside this test's own namespaces.
const PORT = 40_000;

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ip = (...args: string[]) => sh('ip', args);

function macOf(ns: string, dev: string): string {
  const [link] = JSON.parse(ip('-n', ns, '-j', 'link', 'show', dev)) as { address: string }[];
  return link!.address;
}

/** Sends `count` datagrams at `rate` per second: [u32 seq][u64 hrtime ns] each. */
const SENDER = `
const s = require('node:dgram').createSocket('udp4');
const [host, port, count, rate] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
const start = process.hrtime.bigint();
let i = 0;
let sent = 0;
// Exit once every send has completed: closing earlier would drop the last datagrams.
const onSent = (e) => { if (e) throw e; if (++sent === count) s.close(() => process.exit(0)); };
const tick = () => {
  const due = Math.min(count, Math.floor(Number(process.hrtime.bigint() - start) / 1e9 * rate) + 1);
  for (; i < due; i++) {
    const b = Buffer.alloc(64);
    b.writeUInt32BE(i, 0);
    b.writeBigUInt64BE(process.hrtime.bigint(), 4);
    s.send(b, port, host, onSent);
  }
  if (i < count) setTimeout(tick, 1);
};
tick();
`;

/** Collects [seq, delay ns] per datagram until stdin closes, then prints them as JSON. */
const RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
const got = [];
s.on('message', (m) => {
  const now = process.hrtime.bigint();
  got.push([m.readUInt32BE(0), Number(now - m.readBigUInt64BE(4))]);
});
s.bind(+process.argv[2], process.argv[1], () => {
  s.setRecvBufferSize(4 << 20);
  process.stdout.write('ready\\n');
});
process.stdin.on('end', () => process.stdout.write(JSON.stringify(got) + '\\n', () => process.exit(0)));
process.stdin.resume();
`;

interface Received {
  seqs: number[];
  delaysMs: number[];
}

function startReceiver(
  ns: string,
  addr: string,
): Promise<{ child: ChildProcess; done: Promise<Received> }> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, '-e', RECEIVER, addr, String(PORT)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const done = new Promise<Received>((ok, fail) => {
      child.on('exit', (code) => {
        if (code !== 0) return fail(new Error(`receiver exited ${code}`));
        const rows = JSON.parse(out.slice(out.indexOf('\n') + 1)) as [number, number][];
        ok({ seqs: rows.map((r) => r[0]), delaysMs: rows.map((r) => r[1] / 1e6) });
      });
    });
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.startsWith('ready\n')) resolve({ child, done });
    });
    child.on('error', reject);
  });
}

function send(ns: string, to: string, count: number, rate: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-e',
        SENDER,
        to,
        String(PORT),
        String(count),
        String(rate),
      ],
      { stdio: 'inherit' },
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`sender exited ${code}`)),
    );
  });
}

/** One flow from `fromNs` to `toAddr` (received in `toNs`), through the running relay. */
async function flow(fromNs: string, toNs: string, toAddr: string, count: number, rate: number) {
  const receiver = await startReceiver(toNs, toAddr);
  await send(fromNs, toAddr, count, rate);
  // The largest delay below is 40 ms (plus 10 ms held back); half a second lets the relay's
  // queue drain even when the machine is busy.
  await new Promise((r) => setTimeout(r, 500));
  receiver.child.stdin!.end();
  return receiver.done;
}

/** Datagrams that arrived after one with a higher sequence number. */
function lateArrivals(seqs: number[]): number {
  let top = -1;
  let late = 0;
  for (const s of seqs) {
    if (s < top) late++;
    else top = s;
  }
  return late;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** |x - n p| within 5 binomial standard deviations (a false alarm about once in 1.7 million runs). */
function expectBinomial(x: number, n: number, p: number) {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(x - n * p)).toBeLessThanOrEqual(5 * sd + 1);
}

/*
 * Delay tolerance. The relay never releases a frame early (CLOCK_MONOTONIC, release time
 * checked before sending), and the sender's clock reading comes before its send, so every
 * sample is at least the injected delay: the lower bound is the injected value itself minus
 * 0.5 ms for the two processes' clock reads. What comes on top is the kernel's path through two
 * veths and the receiving Node event loop, which on a busy 2-core VM (other test suites running)
 * can stall for many milliseconds; the mean may exceed the injected delay by up to 15 ms.
 */
const DELAY_SLACK_MS = 15;

let relay: ImpairmentRelay | undefined;

function startRelay(aToB: RelayImpairment, bToA: RelayImpairment, seed: bigint) {
  relay = ImpairmentRelay.start({
    netns: nsR,
    interfaceA: 'ra',
    interfaceB: 'rb',
    aToB,
    bToA,
    seed,
  });
  return relay;
}

function stopRelay() {
  relay?.stop();
  const final = relay?.stats();
  relay = undefined;
  return final!;
}

describe.skipIf(!isRoot)('impairment relay between veths (root: netns, veth, AF_PACKET)', () => {
  beforeAll(() => {
    for (const ns of [nsA, nsR, nsB]) ip('netns', 'add', ns);
    ip('link', 'add', 'a0', 'netns', nsA, 'type', 'veth', 'peer', 'name', 'ra', 'netns', nsR);
    ip('link', 'add', 'rb', 'netns', nsR, 'type', 'veth', 'peer', 'name', 'b0', 'netns', nsB);
    // No IPv6 in the relay namespace: its interfaces would otherwise send their own router
    // solicitations and DAD probes, which the relay would count.
    sh('ip', ['netns', 'exec', nsR, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    sh('ip', ['netns', 'exec', nsR, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    for (const [ns, dev, addr] of [
      [nsA, 'a0', ADDR_A],
      [nsB, 'b0', ADDR_B],
    ] as const) {
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', nsR, 'link', 'set', 'ra', 'up');
    ip('-n', nsR, 'link', 'set', 'rb', 'up');
    ip(
      '-n',
      nsA,
      'neigh',
      'replace',
      ADDR_B,
      'lladdr',
      macOf(nsB, 'b0'),
      'dev',
      'a0',
      'nud',
      'permanent',
    );
    ip(
      '-n',
      nsB,
      'neigh',
      'replace',
      ADDR_A,
      'lladdr',
      macOf(nsA, 'a0'),
      'dev',
      'b0',
      'nud',
      'permanent',
    );
  });

  afterAll(() => {
    relay?.stop();
    for (const ns of [nsA, nsR, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // never created
      }
    }
  });

  it('delays and drops each direction as told, without reordering when not asked', async () => {
    startRelay({ delayMs: 40, loss: 0.1 }, { delayMs: 10, loss: 0 }, 0x5eedn);
    const count = 2000;
    const [ab, ba] = await Promise.all([
      flow(nsA, nsB, ADDR_B, count, 800),
      flow(nsB, nsA, ADDR_A, count, 800),
    ]);
    const stats = stopRelay();

    // a -> b: 40 ms and 10 % loss.
    expectBinomial(count - ab.seqs.length, count, 0.1);
    expect(Math.min(...ab.delaysMs)).toBeGreaterThanOrEqual(40 - 0.5);
    expect(mean(ab.delaysMs)).toBeLessThanOrEqual(40 + DELAY_SLACK_MS);
    expect(lateArrivals(ab.seqs)).toBe(0);
    // What the receiver missed is what the relay says it dropped (nothing else was lost).
    expect(stats.a_to_b.dropped_loss).toBe(count - ab.seqs.length);
    expect(stats.a_to_b.forwarded).toBe(ab.seqs.length);
    expect(stats.a_to_b.reordered).toBe(0);

    // b -> a: its own impairment, 10 ms and no loss.
    expect(ba.seqs.length).toBe(count);
    expect(Math.min(...ba.delaysMs)).toBeGreaterThanOrEqual(10 - 0.5);
    expect(mean(ba.delaysMs)).toBeLessThanOrEqual(10 + DELAY_SLACK_MS);
    expect(lateArrivals(ba.seqs)).toBe(0);
    expect(stats.b_to_a.dropped_loss).toBe(0);
    expect(stats.dropped_queue_full).toBe(0);
  });

  it('reorders the asked fraction: held-back datagrams arrive after later ones', async () => {
    startRelay({ delayMs: 5, reorder: 0.2, reorderDelayMs: 10 }, {}, 0xabcn);
    // 1000 datagrams/s: about 10 arrive while one is held back 10 ms, so each held one is
    // overtaken.
    const count = 2000;
    const ab = await flow(nsA, nsB, ADDR_B, count, 1000);
    const stats = stopRelay();

    expect(ab.seqs.length).toBe(count);
    expectBinomial(stats.a_to_b.reordered, count, 0.2);
    const late = lateArrivals(ab.seqs);
    expect(late).toBeGreaterThan(0);
    // A datagram held back is late unless the sender paused for longer than the extra 10 ms
    // just after it (a busy machine): at least half of them must show.
    expect(late).toBeLessThanOrEqual(stats.a_to_b.reordered);
    expect(late).toBeGreaterThanOrEqual(stats.a_to_b.reordered / 2);
  });

  it('drops and counts what finds its queue full, and forwards the rest', async () => {
    relay = ImpairmentRelay.start({
      netns: nsR,
      interfaceA: 'ra',
      interfaceB: 'rb',
      aToB: { delayMs: 100 },
      queueLimit: 16,
    });
    // 1000 datagrams/s held 100 ms need room for about 100; the queue holds 16, so most are
    // dropped (over a third even if a busy machine slows the sender to a quarter of its rate).
    const count = 500;
    const ab = await flow(nsA, nsB, ADDR_B, count, 1000);
    const stats = stopRelay();
    expect(stats.a_to_b.dropped_queue_full).toBeGreaterThan(count / 4);
    expect(stats.a_to_b.forwarded + stats.a_to_b.dropped_queue_full).toBe(stats.a_to_b.received);
    expect(ab.seqs.length).toBe(stats.a_to_b.forwarded);
    expect(lateArrivals(ab.seqs)).toBe(0);
  });

  it('survives an interface deleted under it: counts the error once and does not spin on it', async () => {
    for (const pair of ['x', 'y']) {
      ip('-n', nsR, 'link', 'add', `${pair}0`, 'type', 'veth', 'peer', 'name', `${pair}1`);
      ip('-n', nsR, 'link', 'set', `${pair}0`, 'up');
      ip('-n', nsR, 'link', 'set', `${pair}1`, 'up');
    }
    const r = ImpairmentRelay.start({ netns: nsR, interfaceA: 'x0', interfaceB: 'y0' });
    ip('-n', nsR, 'link', 'del', 'x0');
    // Time for the loop to go round: a socket error left unread would be reported by every
    // poll, thousands of times a second.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const errors = r.stats().a_to_b.interface_errors;
    r.stop();
    expect(errors).toBeGreaterThanOrEqual(1);
    expect(errors).toBeLessThanOrEqual(3);
  });

  it('refuses what it cannot do, with the reason', () => {
    expect(() =>
      ImpairmentRelay.start({ interfaceA: 'ra', interfaceB: 'rb', aToB: { loss: 1 } }),
    ).toThrow(/loss must be a fraction/);
    expect(() =>
      ImpairmentRelay.start({ netns: `${nsR}-missing`, interfaceA: 'ra', interfaceB: 'rb' }),
    ).toThrow(RelayStartError);
    expect(() =>
      ImpairmentRelay.start({ netns: nsR, interfaceA: 'ra', interfaceB: 'nope0' }),
    ).toThrow(/interface nope0/);
  });
});
