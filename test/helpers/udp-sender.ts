import { execFileSync } from 'node:child_process';

/**
 * A node script that sends UDP datagrams from inside a network namespace
 * (`ip netns exec NS node -e UDP_SENDER_SCRIPT PLAN`). argv[1] is a JSON plan:
 * [{ host, port, count, sizes: number[] }]; every send is awaited, with a short
 * pause every 20 datagrams so a small socket buffer never drops any.
 */
export const UDP_SENDER_SCRIPT = `
const dgram = require('node:dgram');
const plan = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
const send = (buf, port, host) => new Promise((ok, fail) => s.send(buf, port, host, (e) => e ? fail(e) : ok()));
(async () => {
  for (const step of plan) {
    for (let i = 0; i < step.count; i++) {
      await send(Buffer.alloc(step.sizes[i], i & 255), step.port, step.host);
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2));
    }
  }
  s.close();
})().catch((e) => { console.error(e); process.exit(1); });
`;

export interface UdpSendStep {
  host: string;
  port: number;
  count: number;
  sizes: number[];
}

/** Runs the sender inside namespace `ns` and waits until every datagram is sent. */
export function sendUdpFromNamespace(ns: string, plan: UdpSendStep[]): void {
  execFileSync('ip', [
    'netns',
    'exec',
    ns,
    process.execPath,
    '-e',
    UDP_SENDER_SCRIPT,
    JSON.stringify(plan),
  ]);
}
