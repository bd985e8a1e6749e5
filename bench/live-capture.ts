/**
 * Live-capture rate on a veth pair: `npm run bench -- live` (part of `npm run bench`; needs root,
 * and says so and is skipped without it), or on its own with more control:
 *
 *   node --import tsx bench/live-capture.ts [seconds-per-trial] [sender-processes]
 *
 * Two network namespaces joined by a veth pair; a small C sender (sendmmsg, 64 datagrams per
 * call, 18-byte payloads = 60-byte frames) floods UDP port 9999 from one side for each trial, at
 * full speed or at a paced rate. On the other side either `wirefleet capture --filter 'udp port
 * 9999'` (64 MiB ring, metering every packet into flows) on the afpacket backend, the same on the
 * libpcap backend, or `tcpdump -w /dev/null` with the same filter and a 64 MiB buffer. For each, it
 * prints the full-speed result, then searches for the highest paced rate that the capture takes
 * with zero kernel drops. Figures, not assertions.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './stats.js';
import { floodBedNames, setUpFloodBed, sh } from './veth-flood.js';

const standalone =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
const SECONDS = Number((standalone && process.argv[2]) || 3);
const SENDERS = Number((standalone && process.argv[3]) || 1);
/** Halvings of the paced rate when the full-speed trial dropped packets. */
const SEARCH_STEPS = 4;
const CLI = path.resolve('bin/wirefleet.js');
const _id = process.pid.toString(36).slice(-5);
const NAMES = floodBedNames('bench', '10.250.0');
const { nsA, nsB, vethA, floodAddr } = NAMES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Trial {
  sent: number;
  sendRate: number;
  captured: number;
  drops: number;
  /** CPU seconds the capture process used while the sender ran (user + system). */
  cpu: number;
}

/** CPU seconds (utime + stime) of a process so far, from /proc (ip netns exec execs in place). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return Number.NaN;
  }
}

/** Runs SENDERS sender processes at rate/SENDERS each; total sent and the longest duration. */
async function send(sender: string, rate: number): Promise<{ sent: number; seconds: number }> {
  const runs = Array.from(
    { length: SENDERS },
    () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(
          'ip',
          ['netns', 'exec', nsB, sender, floodAddr, String(SECONDS), String(rate / SENDERS)],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.once('exit', (code) =>
          code === 0 ? resolve(out) : reject(new Error(`sender exited ${code}`)),
        );
      }),
  );
  let sent = 0;
  let seconds = 0;
  for (const out of await Promise.all(runs)) {
    const [n, s] = out.trim().split(' ').map(Number);
    sent += n!;
    seconds = Math.max(seconds, s!);
  }
  return { sent, seconds };
}

type TrialFn = (sender: string, rate: number) => Promise<Trial>;

/**
 * Waits for a capturer to say it is listening, sends at `rate`, and measures
 * the capturer's CPU over the send. The capturer's stderr is read as it goes.
 */
async function sendWhileCapturing(child: ReturnType<typeof spawn>, sender: string, rate: number) {
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exit = new Promise((r) => child.once('exit', r));
  while (!err.includes('listening on')) {
    if (child.exitCode !== null) throw new Error(err);
    await sleep(20);
  }
  const cpu0 = cpuSeconds(child.pid);
  const { sent, seconds } = await send(sender, rate);
  const cpu = cpuSeconds(child.pid) - cpu0;
  return { exit, stderr: () => err, sent, seconds, cpu };
}

const wirefleetTrial =
  (backend: 'afpacket' | 'libpcap'): TrialFn =>
  async (sender, rate) => {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsA,
        process.execPath,
        CLI,
        'capture',
        '--backend',
        backend,
        '--interface',
        vethA,
        '--filter',
        'udp port 9999',
        '--buffer-mb',
        '64',
        '--seconds',
        String(SECONDS + 2),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const { exit, stderr, sent, seconds, cpu } = await sendWhileCapturing(child, sender, rate);
    await exit;
    const done =
      stderr()
        .split('\n')
        .find((l) => l.includes('capture: done')) ?? '';
    const field = (n: string) => Number(new RegExp(`\\b${n}=(\\d+)`).exec(done)?.[1] ?? Number.NaN);
    return {
      sent,
      sendRate: sent / seconds,
      captured: field('packets'),
      drops: field('kernel_drops'),
      cpu,
    };
  };

async function tcpdumpTrial(sender: string, rate: number): Promise<Trial> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      nsA,
      'tcpdump',
      '-i',
      vethA,
      '-n',
      '-B',
      '65536',
      '-w',
      '/dev/null',
      'udp port 9999',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const { exit, stderr, sent, seconds, cpu } = await sendWhileCapturing(child, sender, rate);
  await sleep(1500); // tcpdump's 1 s buffer timeout: let the last block reach it
  child.kill('SIGINT');
  await exit;
  const err = stderr();
  const field = (label: string) => Number(new RegExp(`(\\d+) packets? ${label}`).exec(err)?.[1]);
  return {
    sent,
    sendRate: sent / seconds,
    captured: field('captured'),
    drops: field('dropped by kernel'),
    cpu,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const line = (name: string, t: Trial) =>
  `${name.padEnd(10)} sent ${fmt(t.sent)} at ${fmt(t.sendRate)} pps: captured ${fmt(t.captured)} (${fmt((t.captured / t.sent) * t.sendRate)} pps), kernel drops ${fmt(t.drops)}, capture CPU ${((t.cpu / SECONDS) * 100).toFixed(0)}% of a core`;

/** The highest rate a capturer took without kernel drops, and the trials that found it. */
async function zeroDropRate(name: string, trial: TrialFn, sender: string) {
  const full = await trial(sender, 0);
  console.log(line(name, full), '[full speed]');
  if (full.drops === 0) return { best: full, full, senderBound: true };
  let lo = 0;
  let hi = full.sendRate;
  let best: Trial | undefined;
  for (let i = 0; i < SEARCH_STEPS; i++) {
    const rate = (lo + hi) / 2;
    const t = await trial(sender, rate);
    console.log(line(name, t), `[paced ${fmt(rate)}]`);
    if (t.drops === 0) {
      lo = rate;
      best = t;
    } else hi = rate;
  }
  return { best, full, senderBound: false };
}

/** Why this machine cannot run the live bench, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, AF_PACKET)';
  for (const tool of ['ip', 'tcpdump', 'cc']) {
    try {
      sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} not found`;
    }
  }
  return undefined;
}

/**
 * Packets/s captured with zero kernel drops at the highest rate the sender reaches (or the
 * highest paced rate without drops), for wirefleet on afpacket and libpcap and for tcpdump.
 */
export async function liveBench(report: (row: BenchRow) => void = () => {}): Promise<BenchRow[]> {
  const why = cannotRun();
  if (why) {
    console.log(`live: skipped, ${why}`);
    return [];
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wf-bench-'));
  const bed = setUpFloodBed(NAMES, tmp);
  const { sender } = bed;
  try {
    console.log(
      `live: ${SECONDS} s per trial, ${SENDERS} sender process(es), 60-byte UDP frames on a veth pair, filter "udp port 9999", 64 MiB buffers`,
    );
    const rows: BenchRow[] = [];
    for (const [name, trial] of [
      ['wirefleet capture (afpacket)', wirefleetTrial('afpacket')],
      ['wirefleet capture (libpcap)', wirefleetTrial('libpcap')],
      ['tcpdump -w /dev/null', tcpdumpTrial],
    ] as const) {
      const { best, full, senderBound } = await zeroDropRate(name, trial, sender);
      const rate = best ? (best.captured / best.sent) * best.sendRate : 0;
      const row: BenchRow = {
        name: `live: ${name}, zero kernel drops`,
        value: Math.round(rate),
        unit: 'packets/s',
        note: senderBound
          ? `at the sender's full speed (${fmt(full.sendRate)} pps sent, all captured): sender-bound, the capture may go higher; capture CPU ${((full.cpu / SECONDS) * 100).toFixed(0)}% of a core`
          : `highest paced rate without drops in ${SEARCH_STEPS} halvings${best ? `, capture CPU ${((best.cpu / SECONDS) * 100).toFixed(0)}% of a core` : ''}; at full speed (${fmt(full.sendRate)} pps sent) it captured ${fmt(full.captured)} and the kernel dropped ${fmt(full.drops)}`,
      };
      report(row);
      rows.push(row);
    }
    return rows;
  } finally {
    bed.remove();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (standalone) {
  const { formatRow } = await import('./stats.js');
  await liveBench((row) => console.log(formatRow(row)));
}
