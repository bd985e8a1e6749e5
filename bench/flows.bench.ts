import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateLargeCapture } from './capture-gen-large.js';
import type { BenchRow } from './stats.js';

const run = promisify(execFile);
const PACKETS = Number(process.env.BENCH_FLOW_PACKETS ?? 2_000_000);
const FLOWS = Number(process.env.BENCH_FLOW_FLOWS ?? 100_000);
const RUNS = 3;

interface Timing {
  seconds: number;
  maxRssMb: number;
}

/** Wall time and peak RSS of one command, measured by GNU time. */
async function timed(command: string, args: string[]): Promise<Timing> {
  const { stderr } = await run('/usr/bin/time', ['-f', 'WF_TIME %e %M', command, ...args], {
    maxBuffer: 512 * 1024 * 1024,
  });
  const match = /WF_TIME ([\d.]+) (\d+)/.exec(stderr);
  if (!match) throw new Error(`no timing from ${command}: ${stderr.slice(-500)}`);
  return { seconds: Number(match[1]), maxRssMb: Number(match[2]) / 1024 };
}

/** The median run of RUNS, by wall time. */
async function median(command: string, args: string[]): Promise<Timing> {
  const runs: Timing[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await timed(command, args));
  runs.sort((a, b) => a.seconds - b.seconds);
  return runs[Math.floor(RUNS / 2)]!;
}

/**
 * `wirefleet flows --read` against softflowd -r (the flow meter to beat) and
 * tcpdump -r -w /dev/null (a bare read of the file) on one generated capture.
 */
export async function flowsBench(report: (row: BenchRow) => void = () => {}): Promise<BenchRow[]> {
  for (const tool of ['softflowd', 'tcpdump', '/usr/bin/time']) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} not found: apt-get install -y softflowd tcpdump time`);
    });
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-flows-bench-'));
  try {
    const file = path.join(dir, 'bench.pcap');
    const truth = await generateLargeCapture(file, { packets: PACKETS, flows: FLOWS });
    const ours = await median(process.execPath, [
      path.resolve('bin/wirefleet.js'),
      'flows',
      '--read',
      file,
      '--format',
      'csv',
    ]);
    // Check our output before trusting its timing: every flow, every packet.
    const { stdout } = await run(
      process.execPath,
      [path.resolve('bin/wirefleet.js'), 'flows', '--read', file],
      {
        maxBuffer: 512 * 1024 * 1024,
      },
    );
    const flows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { packets: number });
    const packets = flows.reduce((sum, f) => sum + f.packets, 0);
    if (packets !== truth.packets)
      throw new Error(`wirefleet metered ${packets} of ${truth.packets} packets`);
    // softflowd exports to the discard port: metering is what is timed. With a
    // control socket, softflowd 1.1 reading a file waits in accept() for ever.
    const softflowd = await median('softflowd', [
      '-r',
      file,
      '-n',
      '127.0.0.1:9',
      '-v',
      '10',
      '-T',
      'full',
      '-6',
      '-d',
      '-m',
      String(FLOWS * 2),
      '-p',
      path.join(dir, 'sf.pid'),
      '-c',
      'none',
    ]);
    const tcpdump = await median('tcpdump', ['-r', file, '-w', '/dev/null']);
    const mb = truth.fileBytes / 2 ** 20;
    const input = `${PACKETS.toLocaleString('en-US')} packets, ${FLOWS.toLocaleString('en-US')} flows, ${mb.toFixed(0)} MB pcap; median of ${RUNS}`;
    const rows: BenchRow[] = [
      {
        name: 'wirefleet flows --read (csv out)',
        value: ours.seconds,
        unit: 's',
        note: `${Math.round(PACKETS / ours.seconds).toLocaleString('en-US')} packets/s, peak RSS ${ours.maxRssMb.toFixed(0)} MB; ${input}; ${flows.length.toLocaleString('en-US')} flows out, packets checked against the generator`,
      },
      {
        name: 'softflowd -r (same file)',
        value: softflowd.seconds,
        unit: 's',
        note: `${Math.round(PACKETS / softflowd.seconds).toLocaleString('en-US')} packets/s, peak RSS ${softflowd.maxRssMb.toFixed(0)} MB`,
      },
      {
        name: 'tcpdump -r -w /dev/null (same file)',
        value: tcpdump.seconds,
        unit: 's',
        note: `${Math.round(PACKETS / tcpdump.seconds).toLocaleString('en-US')} packets/s, peak RSS ${tcpdump.maxRssMb.toFixed(0)} MB`,
      },
      {
        name: 'wirefleet speed vs softflowd',
        value: softflowd.seconds / ours.seconds,
        unit: '× faster',
        note: 'goal ≥ 10×',
      },
      {
        name: 'wirefleet time vs tcpdump bare read',
        value: ours.seconds / tcpdump.seconds,
        unit: '× tcpdump time',
        note: 'goal ≤ 1.5×',
      },
    ];
    for (const row of rows) report(row);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
