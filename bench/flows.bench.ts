import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateLargeCapture } from './capture-gen-large.js';
import type { BenchRow } from './stats.js';

const run = promisify(execFile);
const PACKETS = Number(process.env.BENCH_FLOW_PACKETS ?? 2_000_000);
const FLOWS = Number(process.env.BENCH_FLOW_FLOWS ?? 100_000);
const RUNS = Math.max(3, Number(process.env.BENCH_FLOW_RUNS ?? 5));
const CLI = path.resolve('bin/wirefleet.js');

interface Timing {
  seconds: number;
  maxRssMb: number;
  stderr: string;
}

/** Where a command's stdout goes: a file (or /dev/null), or a pipe this process drains. */
type Sink = { file: string } | 'pipe';

/** Wall time and peak RSS of one command, measured by GNU time (wait4's rusage). */
function timed(command: string, args: string[], sink: Sink): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const out = sink === 'pipe' ? 'pipe' : openSync(sink.file, 'w');
    const child = spawn('/usr/bin/time', ['-f', 'WF_TIME %e %M', command, ...args], {
      stdio: ['ignore', out, 'pipe'],
    });
    if (typeof out === 'number') closeSync(out);
    child.stdout?.resume(); // a reader that keeps up, like `| wc -l`
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const match = /WF_TIME ([\d.]+) (\d+)/.exec(stderr);
      if (code !== 0 || !match) {
        reject(new Error(`${command} exited ${code}: ${stderr.slice(-500)}`));
        return;
      }
      resolve({ seconds: Number(match[1]), maxRssMb: Number(match[2]) / 1024, stderr });
    });
  });
}

interface Measured {
  runs: Timing[];
  median: Timing;
}

const median = (runs: Timing[]): Timing =>
  [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;

const range = (runs: Timing[], pick: (t: Timing) => number, digits: number) => {
  const values = runs.map(pick);
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
};

/** The engine's own seconds from the CLI's summary line (read, meter, format, write). */
const engineSeconds = (t: Timing) => Number(/ seconds=([\d.]+)/.exec(t.stderr)?.[1]);

/**
 * `wirefleet flows --read` against softflowd -r (the flow meter to beat) and
 * tcpdump -r -w /dev/null (a bare read of the file) on one generated capture.
 * The commands take turns, RUNS rounds, so a busy spell on the machine hits all of them.
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
    // Warm-up: builds the CLI bundle if a source changed, and puts the file in the page cache.
    await run(process.execPath, [CLI, '--version']);
    // Check our output before trusting its timing: every flow, every packet.
    const { stdout } = await run(process.execPath, [CLI, 'flows', '--read', file], {
      maxBuffer: 512 * 1024 * 1024,
    });
    const flows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { packets: number });
    const packets = flows.reduce((sum, f) => sum + f.packets, 0);
    if (packets !== truth.packets)
      throw new Error(`wirefleet metered ${packets} of ${truth.packets} packets`);

    const ours = (format: string): [string, string[]] => [
      process.execPath,
      [CLI, 'flows', '--read', file, '--format', format],
    ];
    // softflowd exports to the discard port: metering is what is timed. With a
    // control socket, softflowd 1.1 reading a file waits in accept() for ever.
    const softflowdArgs = ['-r', file, '-n', '127.0.0.1:9', '-v', '10', '-T', 'full', '-6', '-d'];
    softflowdArgs.push('-m', String(FLOWS * 2), '-p', path.join(dir, 'sf.pid'), '-c', 'none');
    const devNull = { file: '/dev/null' };
    const commands: Record<string, [string, string[], Sink]> = {
      null: [...ours('ndjson'), devNull],
      file: [...ours('ndjson'), { file: path.join(dir, 'flows.ndjson') }],
      pipe: [...ours('csv'), 'pipe'],
      softflowd: ['softflowd', softflowdArgs, devNull],
      tcpdump: ['tcpdump', ['-r', file, '-w', '/dev/null'], devNull],
    };
    const runs: Record<string, Timing[]> = Object.fromEntries(
      Object.keys(commands).map((name) => [name, []]),
    );
    for (let round = 0; round < RUNS; round++) {
      for (const [name, [command, args, sink]] of Object.entries(commands)) {
        runs[name]!.push(await timed(command, args, sink));
      }
    }
    const m: Record<string, Measured> = {};
    for (const [name, r] of Object.entries(runs)) m[name] = { runs: r, median: median(r) };
    const {
      null: toNull,
      file: toFile,
      pipe: toPipe,
      softflowd,
      tcpdump,
    } = m as Record<'null' | 'file' | 'pipe' | 'softflowd' | 'tcpdump', Measured>;

    const mb = truth.fileBytes / 2 ** 20;
    const input = `${PACKETS.toLocaleString('en-US')} packets, ${FLOWS.toLocaleString('en-US')} flows, ${mb.toFixed(0)} MB pcap`;
    const pps = (t: Timing) => Math.round(PACKETS / t.seconds).toLocaleString('en-US');
    const describe = (x: Measured) =>
      `median of ${RUNS}, range ${range(x.runs, (t) => t.seconds, 2)} s; ${pps(x.median)} packets/s; peak RSS ${range(x.runs, (t) => t.maxRssMb, 0)} MB`;
    const ratios = (num: Measured, den: Measured) =>
      num.runs.map((t, i) => ({ seconds: t.seconds / den.runs[i]!.seconds }) as Timing);
    const vsSoftflowd = ratios(softflowd, toNull);
    const vsTcpdump = ratios(toNull, tcpdump);
    const rows: BenchRow[] = [
      {
        name: 'wirefleet flows --read, ndjson to /dev/null',
        value: toNull.median.seconds,
        unit: 's',
        note: `${describe(toNull)}; ${input}; ${flows.length.toLocaleString('en-US')} flows out, packets checked against the generator; whole process, Node start-up included`,
      },
      {
        name: 'wirefleet flows --read, ndjson to a file',
        value: toFile.median.seconds,
        unit: 's',
        note: describe(toFile),
      },
      {
        name: 'wirefleet flows --read, csv to a pipe',
        value: toPipe.median.seconds,
        unit: 's',
        note: describe(toPipe),
      },
      {
        name: 'wirefleet engine alone (read, meter, format, write)',
        value: engineSeconds(toNull.median),
        unit: 's',
        note: `range ${range(toNull.runs, engineSeconds, 3)} s: the summary line's seconds= of the /dev/null runs`,
      },
      {
        name: 'softflowd -r (same file)',
        value: softflowd.median.seconds,
        unit: 's',
        note: describe(softflowd),
      },
      {
        name: 'tcpdump -r -w /dev/null (same file)',
        value: tcpdump.median.seconds,
        unit: 's',
        note: describe(tcpdump),
      },
      {
        name: 'wirefleet speed vs softflowd',
        value: softflowd.median.seconds / toNull.median.seconds,
        unit: '× faster',
        note: `ratio of medians; per round ${range(vsSoftflowd, (t) => t.seconds, 2)}×; goal ≥ 10×`,
      },
      {
        name: 'wirefleet time vs tcpdump bare read',
        value: toNull.median.seconds / tcpdump.median.seconds,
        unit: '× tcpdump time',
        note: `ratio of medians; per round ${range(vsTcpdump, (t) => t.seconds, 2)}×; goal ≤ 1.5×`,
      },
    ];
    for (const row of rows) report(row);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
