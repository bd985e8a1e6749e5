import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFlows, meterModel, writePcap } from '../helpers/capture-gen.js';
import {
  everythingScenario,
  manyFlowsScenario,
  type Scenario,
  tcpFinScenario,
} from '../helpers/capture-scenarios.js';

// `wirefleet flows` run as a real process on generated captures, checked against ground truth.

const CLI = path.resolve('bin/wirefleet.js');
let dir: string;
let everything: Scenario;
let capture: string;

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const timeouts = (s: Scenario) => [
  '--idle-timeout',
  String(s.options.idleTimeoutS),
  '--active-timeout',
  String(s.options.activeTimeoutS),
];

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);

const SUMMARY =
  /^wirefleet flows: packets=(\d+) bytes=(\d+) flows=(\d+) parse_errors=(\d+) non_ip=(\d+) evictions=(\d+) seconds=[\d.]+ packets_per_sec=\d+$/;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-cli-flows-'));
  everything = everythingScenario();
  capture = path.join(dir, 'everything.pcap');
  writeFileSync(capture, writePcap(everything.frames));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** One line of stderr, exit 2, nothing on stdout. */
function expectUsageExit(run: Exit, message?: RegExp) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  expect(lines(run.stderr)).toHaveLength(1);
  expect(run.stderr).toMatch(/^wirefleet: /);
  if (message) expect(run.stderr).toMatch(message);
}

describe('wirefleet flows', () => {
  it('prints ndjson equal to ground truth and a summary line', async () => {
    const run = await cli(['flows', '--read', capture, ...timeouts(everything)]);
    expect(run.code, run.stderr).toBe(0);
    const flows = lines(run.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    const { actual, expected } = alignFlows(flows, everything.flows);
    expect(actual).toEqual(expected);
    expect(lines(run.stderr)).toHaveLength(1);
    const m = SUMMARY.exec(run.stderr.trim());
    expect(m, run.stderr).not.toBeNull();
    const [packets, bytes, count, parseErrors, nonIp, evictions] = m!.slice(1).map(Number);
    expect({ packets, bytes, count, parseErrors, nonIp, evictions }).toEqual({
      packets: everything.stats.packets,
      bytes: everything.stats.bytes,
      count: everything.flows.length,
      parseErrors: everything.stats.parse_errors,
      nonIp: everything.stats.non_ip,
      evictions: 0,
    });
  });

  it('prints csv: the header, then one row per flow', async () => {
    const run = await cli(['flows', '--read', capture, '--format', 'csv', ...timeouts(everything)]);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = lines(run.stdout);
    const columns = header!.split(',');
    expect(columns.slice(0, 7)).toEqual([
      'flow_id',
      'src_ip',
      'dst_ip',
      'src_port',
      'dst_port',
      'protocol',
      'vlan_id',
    ]);
    expect(rows).toHaveLength(everything.flows.length);
    const text = new Set(['flow_id', 'src_ip', 'dst_ip', 'tcp_flags', 'state', 'end_reason']);
    const flows = rows.map((row) => {
      const cells = row.split(',');
      expect(cells).toHaveLength(columns.length);
      const flow: Record<string, unknown> = {};
      columns.forEach((c, i) => {
        flow[c] = text.has(c) ? cells[i] : Number(cells[i]);
      });
      flow.ip_version = String(flow.src_ip).includes(':') ? 6 : 4;
      return flow;
    });
    const { actual, expected } = alignFlows(flows, everything.flows);
    expect(actual).toEqual(expected);
  });

  it('prints a table with a header', async () => {
    const run = await cli(['flows', '--read', capture, '--format', 'table']);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = lines(run.stdout);
    expect(header!.split(/\s+/)).toEqual(
      expect.arrayContaining(['src_ip', 'dst_ip', 'src_port', 'dst_port', 'packets', 'bytes']),
    );
    expect(header).toMatch(/end_reason$/);
    // Default timeouts: nothing in this capture idles out or runs long.
    const truth = meterModel(everything.frames, { idleTimeoutS: 300, activeTimeoutS: 1800 });
    expect(rows).toHaveLength(truth.flows.length);
    expect(rows.some((r) => r.includes('SYN|ACK|FIN|PSH'))).toBe(true);
    expect(run.stderr.trim()).toMatch(SUMMARY);
  });

  it.each(['ndjson', 'csv', 'table'])(
    'stops quietly when its reader goes away, as with | head (%s)',
    async (format) => {
      const many = writeTo('many.pcap', writePcap(manyFlowsScenario(20_000).frames));
      const child = spawn(process.execPath, [CLI, 'flows', '--read', many, '--format', format], {
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      // Megabytes of flows against a 64 KiB pipe: the writer is still busy when this closes.
      child.stdout.once('data', () => child.stdout.destroy());
      const [code] = await once(child, 'exit');
      // No stack trace; the JS-formatted table may finish first and print its summary.
      for (const line of lines(stderr)) expect(line).toMatch(SUMMARY);
      if (format !== 'table') expect(stderr).toBe('');
      expect(code).toBe(0);
    },
  );

  it('exits 2 with one line when stdout cannot be written (a full disk)', async () => {
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [CLI, 'flows', '--read', capture], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', full, 'pipe'],
    });
    closeSync(full);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([
      expect.stringMatching(/^wirefleet: cannot write flows: .*space/i),
    ]);
  });

  it.each([
    ['a missing file', () => path.join(dir, 'missing.pcap')],
    ['an empty file', () => writeTo('empty.pcap', new Uint8Array(0))],
    [
      'a text file',
      () => writeTo('notes.txt', new TextEncoder().encode('not a capture\n'.repeat(9))),
    ],
    ['a directory', () => dir],
  ])('exits 2 with one line for %s', async (_what, make) => {
    const target = make();
    expectUsageExit(await cli(['flows', '--read', target]), new RegExp(escapeRegExp(target)));
  });

  it('prints the flows before a corrupt last record, then exits 2 saying "corrupt"', async () => {
    const s = tcpFinScenario();
    const bytes = writePcap(s.frames);
    const cut = writeTo('cut.pcap', bytes.subarray(0, bytes.length - 7));
    const run = await cli(['flows', '--read', cut, ...timeouts(s)]);
    expect(run.code, run.stderr).toBe(2);
    const truth = meterModel(s.frames.slice(0, -1), s.options);
    const flows = lines(run.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    const { actual, expected } = alignFlows(flows, truth.flows);
    expect(actual).toEqual(expected);
    const err = lines(run.stderr);
    expect(err).toHaveLength(2);
    expect(err[0]).toMatch(SUMMARY);
    expect(err[0]).toContain(`packets=${s.frames.length - 1} `);
    expect(err[1]).toMatch(/^wirefleet: .*corrupt/);
  });

  it.each([
    [['--format', 'xml'], /--format/],
    [['--idle-timeout', '0'], /--idle-timeout/],
    [['--idle-timeout', 'soon'], /--idle-timeout/],
    [['--active-timeout=-5'], /--active-timeout/],
    [['--active-timeout', '1.5'], /--active-timeout/],
    [['--max-flows', '100'], /--max-flows/],
    [['--max-flows', '99999999999'], /--max-flows/],
    [['--bogus', '1'], /bogus/],
  ])('exits 2 for bad options %j', async (args, message) => {
    expectUsageExit(await cli(['flows', '--read', capture, ...args]), message);
  });

  it('exits 2 for an option value that looks like an option', async () => {
    // node:util parseArgs explains this over three lines; only the exit code is pinned here.
    const run = await cli(['flows', '--read', capture, '--active-timeout', '-5']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^wirefleet: .*--active-timeout/);
  });

  it('exits 2 without --read', async () => {
    expectUsageExit(await cli(['flows']), /--read/);
  });
});

function writeTo(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
