import { ClockSync } from '../../agent/tango/clock-sync.js';

/**
 * One end of clock sync for the Tango tests, run inside a node's network namespace
 * (`ip netns exec NS node --import tsx test/helpers/clock-sync-peer.ts LOCAL PEER PORT SKEW_MS`):
 * its clock reads SKEW_MS ahead of the machine's, and it prints each estimate as a JSON line.
 */
const [local, peer, port, skew] = process.argv.slice(2);
const skewMs = Number(skew);
const sync = new ClockSync({
  localAddress: local!,
  peerAddress: peer!,
  port: Number(port),
  intervalMs: 50,
  now: () => Date.now() + skewMs,
  onEstimate: (estimate) => process.stdout.write(`${JSON.stringify(estimate)}\n`),
});
await sync.start();
process.on('SIGTERM', () => {
  sync.stop();
  process.exit(0);
});
