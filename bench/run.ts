import os from 'node:os';
import { agentBench } from './agent.bench.js';
import { bundlesBench } from './bundles.bench.js';
import { editcapBench } from './editcap.bench.js';
import { evidenceBench } from './evidence.bench.js';
import { flowsBench } from './flows.bench.js';
import { httpBench } from './http.bench.js';
import { liveBench } from './live-capture.js';
import { pcapBench } from './pcap.bench.js';
import { recordingBench } from './recording.bench.js';
import { routingBench } from './routing.bench.js';
import { type BenchRow, formatRow, machineInfo, markdownTable } from './stats.js';
import { tangoBench } from './tango.bench.js';

const BENCHES: Record<string, (report: (row: BenchRow) => void) => Promise<BenchRow[]>> = {
  routing: routingBench,
  pcap: pcapBench,
  editcap: editcapBench,
  flows: flowsBench,
  http: httpBench,
  live: liveBench,
  agent: agentBench,
  bundles: bundlesBench,
  evidence: evidenceBench,
  recording: recordingBench,
  tango: tangoBench,
};

const loadAverage = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  // The SDK's "node >=22 from 2027" notice would interleave with the figures.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const wanted = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = wanted.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`,
    );
    process.exitCode = 2;
    return;
  }
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  const machine = machineInfo();
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory} RAM, node ${machine.node}, ${machine.os}; load average ${loadAverage()}`,
  );
  const rows: BenchRow[] = [];
  const started = performance.now();
  for (const name of names) {
    console.log(`\n## ${name}`);
    const t0 = performance.now();
    rows.push(...(await BENCHES[name]!((row) => console.log(formatRow(row)))));
    console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(
    `\nall benches took ${((performance.now() - started) / 1000).toFixed(1)} s; load average now ${loadAverage()}\n`,
  );
  console.log(
    `Measured with \`npm run bench${wanted.length ? ` -- ${names.join(' ')}` : ''}\` on ${machine.cpu} (${machine.cores} cores, ${machine.memory}), Node ${machine.node}, ${machine.os}, ${new Date().toISOString().slice(0, 10)}. Emulators run inside the bench process unless a row's note says otherwise; MB = 2^20 bytes.\n`,
  );
  console.log(markdownTable(rows));
}

await main();
