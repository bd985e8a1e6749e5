import { httpBench } from './http.bench.js';
import { pcapBench } from './pcap.bench.js';
import { routingBench } from './routing.bench.js';
import { type BenchRow, formatRow, machineInfo, markdownTable } from './stats.js';

const BENCHES: Record<string, (report: (row: BenchRow) => void) => Promise<BenchRow[]>> = {
  routing: routingBench,
  pcap: pcapBench,
  http: httpBench,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = wanted.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  const machine = machineInfo();
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory} RAM, node ${machine.node}, ${machine.os}`,
  );
  const rows: BenchRow[] = [];
  const started = performance.now();
  for (const name of names) {
    console.log(`\n## ${name}`);
    const t0 = performance.now();
    rows.push(...(await BENCHES[name]!((row) => console.log(formatRow(row)))));
    console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`\nall benches took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  console.log(
    `Measured on ${machine.cpu} (${machine.cores} cores, ${machine.memory}), Node ${machine.node}, ${machine.os}; ${new Date().toISOString().slice(0, 10)}.\n`,
  );
  console.log(markdownTable(rows));
}

await main();
