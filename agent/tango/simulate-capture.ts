import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CapturedPacket,
  encodePcapHeader,
  encodePcapRecord,
  LINKTYPE_ETHERNET,
  readPcap,
} from '../../protocol/pcap.js';
import { exited } from './simulate-traffic.js';

/**
 * `--write FILE`: the tunnel traffic between the two nodes, taken with the project's own capture
 * engine (`wirefleet capture`, AF_PACKET TPACKET_V3) on every path's relay-side interface that
 * faces tango2, so the file shows the frames as tango2 received them (after the relay's delay,
 * loss and reordering) and what tango2 sent back. One capture per path, merged by timestamp.
 */

const CLI = fileURLToPath(new URL('../../bin/wirefleet.js', import.meta.url));

export interface PathCapture {
  file: string;
  child: ChildProcess;
  done: Promise<void>;
}

/** Starts `wirefleet capture` on `iface` inside `ns`; resolves once it listens. */
export async function startPathCapture(
  ns: string,
  iface: string,
  file: string,
): Promise<PathCapture> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, CLI, 'capture', '--interface', iface, '--write', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const done = exited(child, `capture on ${iface}`);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('listening on')) resolve();
    });
    done.then(() => reject(new Error(`capture on ${iface} ended before it started`)), reject);
  });
  return { file, child, done };
}

/** Stops the captures (they flush their pcap on SIGINT) and merges them into `out`. */
export async function finishCaptures(captures: PathCapture[], out: string): Promise<number> {
  for (const c of captures) c.child.kill('SIGINT');
  await Promise.all(captures.map((c) => c.done));
  const packets: CapturedPacket[] = [];
  for (const c of captures) packets.push(...readPcap(readFileSync(c.file)));
  // Stable: frames of one path with equal timestamps keep their order.
  packets.sort((a, b) =>
    a.timestampNs < b.timestampNs ? -1 : a.timestampNs > b.timestampNs ? 1 : 0,
  );
  const parts = [encodePcapHeader({ linktype: LINKTYPE_ETHERNET, precision: 'nano' })];
  for (const p of packets) parts.push(encodePcapRecord(p, 'nano'));
  writeFileSync(out, Buffer.concat(parts));
  return packets.length;
}

export function captureFileFor(dir: string, pathId: number): string {
  return path.join(dir, `path${pathId}.pcap`);
}
