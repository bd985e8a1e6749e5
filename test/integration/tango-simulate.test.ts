import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { reorderDelayMs } from '../../agent/tango/simulate-run.js';
import { tshark } from '../helpers/tshark.js';

// `wirefleet tango simulate` end to end, the real CLI as a user runs it: namespaces, veths, the
// impairment relay on each path, a Tango node pair (TangoNode + TangoForwarder) and UDP from
// host1 to host2. What tango2 measured per path is compared with what the relay injected, and
// the --write pcap is decoded by real tshark with the shipped dissector. Needs root (netns,
// veth, TUN, AF_PACKET); skipped otherwise, except the checks that need none.

const CLI = path.resolve('bin/wirefleet.js');
const DISSECTOR = fileURLToPath(new URL('../../tools/wireshark/tango.lua', import.meta.url));
const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The refusal without root is checked as an unprivileged user: this one (when not root) or
// nobody, provided nobody can read the checkout (it may live under a private directory).
const NOBODY = 65534;
const nonRootCanRunCli =
  !isRoot ||
  (() => {
    try {
      execFileSync(
        'setpriv',
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          '--clear-groups',
          process.execPath,
          '-e',
          `require('node:fs').accessSync(${JSON.stringify(CLI)})`,
        ],
        { stdio: 'ignore' },
      );
      return true;
    } catch {
      return false;
    }
  })();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(
  args: string[],
  opts: { uid?: number; onStderr?: (text: string, kill: () => void) => void } = {},
) {
  const [cmd, argv] =
    opts.uid === undefined
      ? [process.execPath, [CLI, ...args]]
      : [
          'setpriv',
          [
            `--reuid=${opts.uid}`,
            `--regid=${opts.uid}`,
            '--clear-groups',
            process.execPath,
            CLI,
            ...args,
          ],
        ];
  return new Promise<Run>((resolve) => {
    const child = spawn(cmd, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(stderr, () => child.kill('SIGINT'));
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The namespaces a run announced on stderr ("topology <id>: ns, ns, ..."). */
function namespacesOf(stderr: string): string[] {
  const m = /topology [0-9a-f]+: (.*)/.exec(stderr);
  return m ? m[1]!.split(', ') : [];
}

function liveNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** `tango simulate` arguments from flags: {paths: 3, "delay-ms": "5,20"} → --paths 3 --delay-ms 5,20. */
function simulateArgs(flags: Record<string, string | number>): string[] {
  return [
    'tango',
    'simulate',
    ...Object.entries(flags).flatMap(([flag, v]) => [`--${flag}`, String(v)]),
  ];
}

describe('tango simulate: arguments (no root needed)', () => {
  it('refuses lists that do not have one value per path, and a loss of 1, in one line, exit 2', async () => {
    const r = await runCli(
      simulateArgs({ paths: 3, 'delay-ms': '5,20', loss: '0,0,1', seconds: 1 }),
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--delay-ms: needs 3 values/);
    expect(r.stderr).toMatch(/--loss\.2: a loss fraction is below 1/);
    const short = await runCli(simulateArgs({ paths: 1, 'delay-ms': 5, loss: 0, seconds: 0.01 }));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/--seconds: too short to measure/);
  });

  it('refuses a --write file in a directory that does not exist before building anything', async () => {
    const r = await runCli(
      simulateArgs({
        paths: 1,
        'delay-ms': 5,
        loss: 0,
        seconds: 1,
        write: path.join(dir, 'missing', 'out.pcap'),
      }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `wirefleet: --write: cannot write in ${path.join(dir, 'missing')}`,
    );
  });

  it.skipIf(!nonRootCanRunCli)('says it needs root, in one line, exit 2', async () => {
    const r = await runCli(
      simulateArgs({ paths: 1, 'delay-ms': 5, loss: 0, seconds: 1 }),
      isRoot ? { uid: NOBODY } : {},
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'wirefleet: tango simulate needs root (network namespaces, veth, TUN and AF_PACKET): run it with sudo',
    );
  });
});

/** |x - n p| within 5 binomial standard deviations, plus a few frames (see below). */
function expectLossNear(lost: number, n: number, p: number) {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(lost - n * p)).toBeLessThanOrEqual(5 * sd + 3);
}

describe.skipIf(!isRoot)(
  'tango simulate on this machine (root: netns, veth, TUN, AF_PACKET)',
  () => {
    it('measures per path the delay, loss and reordering the relay injected, and writes a pcap tshark decodes', async () => {
      const pcap = path.join(dir, 'tunnel.pcap');
      const delays = [5, 20, 40];
      const losses = [0, 0.05, 0.1];
      const reorders = [0.1, 0, 0];
      const rate = 400;
      const seconds = 4;
      const r = await runCli(
        simulateArgs({
          paths: 3,
          'delay-ms': delays.join(','),
          loss: losses.join(','),
          reorder: reorders.join(','),
          seconds,
          rate,
          write: pcap,
        }),
      );
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as {
        paths: {
          path_id: number;
          injected: { delay_ms: number; loss: number; reorder: number };
          measured: {
            delay_ms: number;
            jitter_ms: number;
            loss: number;
            reorder: number;
            packets: number;
            delivered: number;
          };
          relay: { received: number; dropped_loss: number; reordered: number; forwarded: number };
        }[];
      };
      expect(result.paths.map((p) => p.path_id)).toEqual([0, 1, 2]);
      const sent = rate * seconds;
      for (const [i, p] of result.paths.entries()) {
        expect(p.injected).toEqual({ delay_ms: delays[i], loss: losses[i], reorder: reorders[i] });
        const m = p.measured;
        // Delay. Both nodes read this machine's clock, so the clock offset between them is 0 and
        // the one-way delay tango2 measures is the relay's (which holds the reordered fraction
        // back reorderDelayMs more) plus the time in the nodes and the kernel, never less. Each
        // sample is quantised to the 1.05 ms timestamp tick (±0.53 ms, averaging out), hence
        // 0.6 ms below; above, a busy 2-core VM running other suites can add several ms to the
        // mean, so 10 ms (the quiet machine measures +0.2 ms).
        const expected = delays[i]! + reorders[i]! * reorderDelayMs(rate);
        expect(m.delay_ms).toBeGreaterThanOrEqual(expected - 0.6);
        expect(m.delay_ms).toBeLessThanOrEqual(expected + 10);
        expect(m.jitter_ms).toBeGreaterThanOrEqual(0);
        // Loss from sequence gaps, against a binomial(sent, loss) around the injected fraction.
        // The 3 extra frames allow for a stray kernel drop on a loaded machine; a lossless path
        // still has to show (almost) none.
        const expectedCount = Math.round(m.packets / (1 - m.loss));
        expect(Math.abs(expectedCount - sent)).toBeLessThanOrEqual(3);
        expectLossNear(sent - m.packets, sent, losses[i]!);
        // What was missing is what the relay dropped (give or take a frame of the interfaces' own
        // IPv6 chatter, which crosses the relay too).
        expect(Math.abs(sent - m.packets - p.relay.dropped_loss)).toBeLessThanOrEqual(3);
        // Reordering: none where none was injected (one thread, one socket per path keeps
        // order). Where it was, the held-back fraction is binomial; a held-back frame counts only
        // if a later one overtook it, which a stalled sender (over the extra 10 ms) can prevent,
        // so the lower bound is half the injected fraction.
        if (reorders[i] === 0) {
          expect(m.reorder).toBe(0);
        } else {
          const sd = Math.sqrt(m.packets * reorders[i]! * (1 - reorders[i]!));
          expect(m.reorder * m.packets).toBeLessThanOrEqual(m.packets * reorders[i]! + 5 * sd);
          expect(m.reorder).toBeGreaterThanOrEqual(reorders[i]! / 2);
        }
        // Every datagram tango2 accepted reached host2 intact.
        expect(m.delivered).toBe(m.packets);
      }
      // Path 2 loses more than path 1, which loses more than path 0: the impairments went to
      // the right paths.
      expect(result.paths[2]!.measured.packets).toBeLessThan(result.paths[1]!.measured.packets);
      expect(result.paths[1]!.measured.packets).toBeLessThan(result.paths[0]!.measured.packets);

      // The pcap: every UDP frame to the Tango port decodes as wftango with no "Decode As", and
      // each path carries at least what tango2 accepted on it.
      const rows = (
        await tshark(pcap, [
          '-X',
          `lua_script:${DISSECTOR}`,
          '-Y',
          'udp.port == 61042',
          '-T',
          'fields',
          '-e',
          'wftango.path_id',
          '-e',
          'wftango.seq',
        ])
      )
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t'));
      expect(rows.length).toBeGreaterThan(0);
      const perPath = [0, 0, 0];
      for (const [pathId, seq] of rows) {
        expect(pathId, 'a Tango-port frame the dissector did not decode').toMatch(/^\d$/);
        expect(seq).toMatch(/^\d+$/);
        perPath[Number(pathId)]!++;
      }
      for (const [i, p] of result.paths.entries()) {
        expect(perPath[i]).toBeGreaterThanOrEqual(p.measured.packets);
      }
      for (const ns of namespacesOf(r.stderr)) expect(liveNamespaces()).not.toContain(ns);
      expect(namespacesOf(r.stderr)).toHaveLength(5);
    }, 90_000);

    it('removes every namespace when interrupted with SIGINT, exit 130', async () => {
      let interrupted = false;
      const r = await runCli(
        simulateArgs({ paths: 2, 'delay-ms': '10,10', loss: '0,0', seconds: 60 }),
        {
          onStderr: (text, kill) => {
            if (!interrupted && text.includes('sending')) {
              interrupted = true;
              kill();
            }
          },
        },
      );
      expect(interrupted).toBe(true);
      expect(r.code).toBe(130);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/interrupted by SIGINT, cleaned up/);
      const made = namespacesOf(r.stderr);
      expect(made).toHaveLength(5);
      for (const ns of made) expect(liveNamespaces()).not.toContain(ns);
    }, 60_000);
  },
);
