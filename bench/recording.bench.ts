/**
 * Live capture with evidence recording on and off: `npm run bench -- recording` (needs root; says
 * so and is skipped without it).
 *
 * Two network namespaces joined by a veth pair, as in live-capture.ts: a C sender floods 60-byte
 * UDP frames from one side. On the other side a capture process runs the agent's own path, a
 * LiveSession (afpacket, 64 MiB ring, filter "udp port 9999", agent defaults for the flow
 * table) with, when recording is on, the engine's rotating segments handed to a SegmentRecorder
 * (AES-256-GCM, a real key file) that writes to a SegmentSpool in a temp dir, with the agent's
 * default segment size, time and spool bound. The same process without recording is the off
 * variant. Off and on alternate (the order swaps each round), 3 rounds at the sender's full
 * speed and 3 at half the rate it reached, and the figures are medians over the rounds. Each
 * trial reports kernel drops for both, packets captured but missing from the recorded segments,
 * and the capture process's CPU (all threads, from listening until its last segment is on disk,
 * over that wall time). Figures, not assertions; the verdict line says whether recording added
 * kernel drops at a rate where the capture without it had none.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults } from '../agent/config/defaults.js';
import type { CaptureStats } from '../native/capture.js';
import type { BenchRow } from './stats.js';
import { floodBedNames, setUpFloodBed, sh } from './veth-flood.js';

const SELF = fileURLToPath(import.meta.url);
const SECONDS = Number(process.env.BENCH_RECORDING_SECONDS ?? 3);
const ROUNDS = 3;
const _id = process.pid.toString(36).slice(-5);
const NAMES = floodBedNames('rec', '10.251.0');
const { nsA, nsB, vethA, floodAddr } = NAMES;

/** What the capture process prints on stdout when it is done (one JSON line). */
interface CaptureReport {
  packets: number;
  kernel_drops: number;
  /** Recording on: packets the engine put in segments, and packets it could not. */
  pcap_packets_written: number | null;
  pcap_packets_dropped: number | null;
  segments_recorded: number;
  packets_recorded: number;
  bytes_recorded: number;
  write_failures: number;
  spool_dropped_segments: number;
  /** CPU seconds (all threads) and wall seconds from "listening" until the last segment is on disk. */
  cpu_seconds: number;
  wall_seconds: number;
}

/**
 * The capture process (run inside the capture namespace): one LiveSession as the agent opens
 * it, with or without the recorder, for `seconds`; prints "listening on" when the socket is open.
 */
async function captureChild(iface: string, seconds: number, record: boolean, dir: string) {
  const [{ LiveSession }, { FlowSink }, { SegmentRecorder }, { SegmentSpool }, keys] =
    await Promise.all([
      import('../agent/capture/live-session.js'),
      import('../agent/capture/delivery.js'),
      import('../agent/evidence/recorder.js'),
      import('../agent/evidence/segment-spool.js'),
      import('../agent/evidence/key-file.js'),
    ]);
  const { silentAgentLogger } = await import('../agent/log.js');
  const d = configDefaults;
  const spool = await SegmentSpool.open({
    dir: path.join(dir, 'spool'),
    maxBytes: d.evidence.max_spool_mb * 1024 * 1024,
  });
  const recorder = new SegmentRecorder({
    agentId: 'bench-agent',
    spool,
    segmentBytes: d.evidence.segment_mb * 1024 * 1024,
    segmentSeconds: d.evidence.segment_seconds,
  });
  if (record) {
    const keyFile = path.join(dir, 'master.key');
    keys.createKeyFile(keyFile);
    recorder.enable({ cipher: d.evidence.cipher, keyFile });
  }
  let flows = 0;
  const sink = new FlowSink((batch) => {
    flows += batch.length;
  }, silentAgentLogger);
  let last: CaptureStats | undefined;
  let failed: Error | undefined;
  const session = new LiveSession({
    id: 'bench',
    interface: iface,
    backend: 'afpacket',
    bufferSizeMb: d.capture.buffer_size_mb,
    snaplen: d.capture.snaplen,
    filter: 'udp port 9999',
    timestampSource: 'kernel',
    promiscuous: false,
    meter: {
      maxFlows: d.flows.table_size,
      idleTimeoutS: d.flows.idle_timeout_sec,
      activeTimeoutS: d.flows.active_timeout_sec,
    },
    summaryIntervalSec: d.flows.summary_interval_sec,
    sink,
    segments: recorder.runOptions(),
    onTick: (stats) => {
      last = stats;
    },
    onTickError: (error) => {
      failed = error instanceof Error ? error : new Error(String(error));
    },
    onFailed: (error) => {
      failed = error;
    },
  });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  process.stderr.write(`listening on ${iface}\n`);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { counters } = await session.stop(true);
  await recorder.idle();
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - wall0) / 1000;
  if (failed) throw failed;
  const r = recorder.stats();
  const report: CaptureReport = {
    packets: counters.packets_captured,
    kernel_drops: counters.packets_dropped,
    pcap_packets_written: last?.pcap?.packets_written ?? null,
    pcap_packets_dropped: last?.pcap?.packets_dropped ?? null,
    segments_recorded: r.segments_recorded,
    packets_recorded: r.packets_recorded,
    bytes_recorded: r.bytes_recorded,
    write_failures: r.write_failures,
    spool_dropped_segments: spool.stats().dropped_segments,
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    wall_seconds: wall,
  };
  process.stdout.write(`${JSON.stringify({ ...report, flows })}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Trial extends CaptureReport {
  record: boolean;
  sent: number;
  sendRate: number;
}

function runSender(sender: string, rate: number): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', nsB, sender, floodAddr, String(SECONDS), String(rate)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`sender exited ${code}`));
      const [sent, seconds] = out.trim().split(' ').map(Number);
      resolve({ sent: sent!, seconds: seconds! });
    });
  });
}

async function trial(sender: string, rate: number, record: boolean, tmp: string): Promise<Trial> {
  const dir = mkdtempSync(path.join(tmp, record ? 'on-' : 'off-'));
  try {
    // The capture runs 1 s past the sender, so the ring is drained before it stops.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsA,
        process.execPath,
        '--import',
        'tsx',
        SELF,
        '--capture-child',
        vethA,
        String(SECONDS + 1),
        record ? 'on' : 'off',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exit = new Promise<number | null>((r) => child.once('exit', r));
    while (!err.includes('listening on')) {
      if (child.exitCode !== null) throw new Error(`capture process failed: ${err}`);
      await sleep(20);
    }
    const { sent, seconds } = await runSender(sender, rate);
    if ((await exit) !== 0) throw new Error(`capture process failed: ${err}`);
    const report = JSON.parse(out.trim().split('\n').at(-1)!) as CaptureReport;
    return { ...report, record, sent, sendRate: sent / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const capturedRate = (t: Trial) => (t.packets / t.sent) * t.sendRate;
const cpuPct = (t: Trial) => (t.cpu_seconds / t.wall_seconds) * 100;

function describe(t: Trial): string {
  const base = `recording ${t.record ? 'on ' : 'off'}: sent ${fmt(t.sent)} at ${fmt(t.sendRate)} pps, captured ${fmt(t.packets)} (${fmt(capturedRate(t))} pps), kernel drops ${fmt(t.kernel_drops)}, capture CPU ${cpuPct(t).toFixed(0)}% of a core`;
  if (!t.record) return base;
  return `${base}; recorded ${fmt(t.packets_recorded)} packets in ${t.segments_recorded} segments (${(t.bytes_recorded / 2 ** 20).toFixed(1)} MiB encrypted), engine segment drops ${t.pcap_packets_dropped ?? 'n/a'}, write failures ${t.write_failures}, spool overflow ${t.spool_dropped_segments}`;
}

/** Why this machine cannot run the bench, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, AF_PACKET)';
  for (const tool of ['ip', 'cc']) {
    try {
      sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} not found`;
    }
  }
  return undefined;
}

function rowsFor(label: string, trials: Trial[]): BenchRow[] {
  const off = trials.filter((t) => !t.record);
  const on = trials.filter((t) => t.record);
  const offRate = median(off.map(capturedRate));
  const onRate = median(on.map(capturedRate));
  const drops = (ts: Trial[]) => ts.map((t) => fmt(t.kernel_drops)).join('/');
  const cpu = (ts: Trial[]) => median(ts.map(cpuPct)).toFixed(0);
  const sendRate = median(trials.map((t) => t.sendRate));
  const offClean = off.every((t) => t.kernel_drops === 0);
  const onClean = on.every((t) => t.kernel_drops === 0);
  // Everything sent was captured: the figure is the sender's rate, not the capture's ceiling.
  const senderBound = trials.every((t) => t.packets === t.sent);
  const unrecorded = on.reduce((n, t) => n + (t.packets - t.packets_recorded), 0);
  const verdict = offClean
    ? onClean
      ? 'no drops without recording and none with it: holds at this rate'
      : 'no drops without recording but drops with it: does NOT hold at this rate'
    : 'the capture already drops without recording at this rate, so the rule does not apply here';
  const note = `${label}, sender ${fmt(sendRate)} pps (median); medians of ${ROUNDS} alternating rounds, ${SECONDS} s each`;
  return [
    {
      name: `recording: live capture ${label}, recording off`,
      value: Math.round(offRate),
      unit: 'packets/s',
      note: `${note}; kernel drops per round ${drops(off)}; capture CPU ${cpu(off)}% of a core`,
    },
    {
      name: `recording: live capture ${label}, recording on (${configDefaults.evidence.cipher} to a disk spool)`,
      value: Math.round(onRate),
      unit: 'packets/s',
      note: `${note}; kernel drops per round ${drops(on)}; capture CPU ${cpu(on)}% of a core; captured but not in a recorded segment: ${fmt(unrecorded)} packets over all rounds`,
    },
    {
      name: `recording: live capture ${label}, on/off`,
      value: Number((onRate / offRate).toFixed(3)),
      unit: 'ratio',
      note: `packets/s with recording over without${senderBound ? " (every packet sent was captured in every round, so packets/s is the rate offered and the ratio the sender's run-to-run variation, not a capture ceiling)" : ''}; CPU on/off ${(median(on.map(cpuPct)) / median(off.map(cpuPct))).toFixed(2)}; ${verdict}`,
    },
  ];
}

export async function recordingBench(
  report: (row: BenchRow) => void = () => {},
): Promise<BenchRow[]> {
  const why = cannotRun();
  if (why) {
    console.log(`recording: skipped, ${why}`);
    return [];
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wf-bench-rec-'));
  const bed = setUpFloodBed(NAMES, tmp);
  const { sender } = bed;
  try {
    console.log(
      `recording: ${SECONDS} s per trial, 60-byte UDP frames on a veth pair, afpacket, ${configDefaults.capture.buffer_size_mb} MiB ring, ${configDefaults.evidence.cipher} segments of ${configDefaults.evidence.segment_mb} MiB / ${configDefaults.evidence.segment_seconds} s; CPU is the capture process's, all threads, from listening until its last segment is on disk`,
    );
    const rows: BenchRow[] = [];
    let rate = 0;
    for (const label of ['at full speed', 'paced at half the full-speed rate']) {
      const trials: Trial[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const record of round % 2 === 0 ? [false, true] : [true, false]) {
          const t = await trial(sender, rate, record, tmp);
          console.log(`${label}, round ${round + 1}: ${describe(t)}`);
          trials.push(t);
        }
      }
      for (const row of rowsFor(label, trials)) {
        report(row);
        rows.push(row);
      }
      rate = median(trials.map((t) => t.sendRate)) / 2;
    }
    return rows;
  } finally {
    bed.remove();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--capture-child') {
  const [iface, seconds, mode, dir] = process.argv.slice(3);
  await captureChild(iface!, Number(seconds), mode === 'on', dir!);
}
