import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The simulation's hosts: a UDP sender in host1 and a sink in host2, each a small Node process
 * run with `ip netns exec` (a socket belongs to the namespace of the process that opens it).
 * Path i's traffic goes to destination port basePort + i, which the nodes' class rules map to
 * path i.
 */

/** argv: host basePort paths rate seconds. Sends `rate` datagrams/s to each port, then exits. */
const SENDER = `
const s = require('node:dgram').createSocket('udp4');
const [host, base, paths, rate, seconds] = process.argv.slice(1).map((v, i) => (i ? +v : v));
const total = Math.round(rate * seconds);
if (total === 0) process.exit(0);
const start = process.hrtime.bigint();
let sent = 0, done = 0;
// Exit once every send completed: closing earlier would drop the last datagrams.
const onSent = () => { if (++done === total * paths) s.close(() => process.exit(0)); };
const tick = () => {
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - start) / 1e9 * rate) + 1);
  for (; sent < due; sent++) {
    for (let p = 0; p < paths; p++) {
      const b = Buffer.alloc(64);
      b.writeUInt32BE(sent, 0);
      b.writeUInt32BE(p, 4);
      s.send(b, base + p, host, onSent);
    }
  }
  if (sent < total) setTimeout(tick, 1);
};
tick();
`;

/** argv: host basePort paths. Counts intact datagrams per port; prints the counts when stdin ends. */
const SINK = `
const dgram = require('node:dgram');
const [host, base, paths] = process.argv.slice(1).map((v, i) => (i ? +v : v));
const counts = new Array(paths).fill(0);
let bound = 0;
for (let p = 0; p < paths; p++) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => { if (m.length === 64 && m.readUInt32BE(4) === p) counts[p]++; });
  s.bind(base + p, host, () => { s.setRecvBufferSize(4 << 20); if (++bound === paths) process.stdout.write('ready\\n'); });
}
process.stdin.on('end', () => process.stdout.write(JSON.stringify(counts) + '\\n', () => process.exit(0)));
process.stdin.resume();
`;

// 46000-46007: no Wireshark dissector claims them, so the inner datagrams show as plain data.
export const TRAFFIC_BASE_PORT = 46_000;

function inNamespace(ns: string, script: string, args: (string | number)[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args.map(String)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Resolves when the child exits 0; rejects with its stderr otherwise, or on abort. */
export function exited(child: ChildProcess, what: string, signal?: AbortSignal): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('exit', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

/** A started sink: `finish()` closes its stdin and returns the intact datagrams per path. */
export interface TrafficSink {
  child: ChildProcess;
  finish(): Promise<number[]>;
}

export async function startSink(ns: string, host: string, paths: number): Promise<TrafficSink> {
  const child = inNamespace(ns, SINK, [host, TRAFFIC_BASE_PORT, paths]);
  let out = '';
  const done = exited(child, 'the traffic sink');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    done.catch(reject);
  });
  return {
    child,
    async finish() {
      child.stdin!.end();
      await done;
      return JSON.parse(out.slice('ready\n'.length)) as number[];
    },
  };
}

/** Sends `rate` datagrams/s per path for `seconds` from `ns` to host:basePort+i; resolves when done. */
export function sendTraffic(
  ns: string,
  host: string,
  paths: number,
  rate: number,
  seconds: number,
  signal?: AbortSignal,
): { child: ChildProcess; done: Promise<void> } {
  const child = inNamespace(ns, SENDER, [host, TRAFFIC_BASE_PORT, paths, rate, seconds]);
  child.stdin!.end();
  return { child, done: exited(child, 'the traffic sender', signal) };
}
