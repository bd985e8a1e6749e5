import { startDynalite } from '../infra/local/emulators.js';

/**
 * dynalite in a process of its own (for bench/pcap.bench.ts): prints its
 * endpoint on stdout and serves, in memory, until killed.
 */
const dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${dynalite.endpoint}\n`);
process.once('SIGTERM', () => {
  void dynalite.close().then(() => process.exit(0));
});
