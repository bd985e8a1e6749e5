import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { batchFlows } from '../agent/batcher.js';
import { DiskSpool } from '../agent/spool.js';
import { createIngestDeps } from '../functions/ingest/index.js';
import { silentLogger } from '../functions/logger.js';
import { DEFAULT_TENANT } from '../functions/store/tenants.js';
import { buildDemoCapture } from '../infra/local/demo-capture.js';
import { startLocalStack } from '../infra/local/stack.js';
import { eventually, registerAgent, startAgentProcess } from '../test/helpers/agent-process.js';
import { sampleFlows } from '../test/helpers/sample-flows.js';
import type { Bench, BenchRow } from './stats.js';

/**
 * The agent's uplink, measured end to end with real processes:
 *  - spool: durable appends (write, fsync, rename, directory fsync) of real flow batches;
 *  - pipeline: `wirefleet agent run` replaying a capture → aedes → ingest → dynalite, in flow
 *    records per second until the store holds every record, beside the store's own write rate
 *    for the same records (the floor the pipeline cannot beat);
 *  - memory: the agent's resident set while it tracks 100 000 live flows (root: loopback capture).
 */
export const agentBench: Bench = async (log) => {
  const rows: BenchRow[] = [];
  const report = (row: BenchRow) => {
    rows.push(row);
    log(row);
  };
  const work = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-agent-bench-'));
  try {
    await spoolBench(work, report);
    await pipelineBench(work, report);
    await memoryBench(work, report);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return rows;
};

async function spoolBench(work: string, report: (row: BenchRow) => void) {
  const payloads = batchFlows('bench-agent', sampleFlows(100_000, 0, Date.now() / 1000 - 60), {
    maxRecords: 500,
  });
  const spool = await DiskSpool.open({
    dir: path.join(work, 'spool'),
    maxBytes: 1024 * 1024 * 1024,
  });
  const bytes = payloads.reduce((sum, p) => sum + p.length, 0);
  const t0 = performance.now();
  for (const payload of payloads) await spool.append('flows', payload, { records: 500 });
  const appendMs = performance.now() - t0;
  const t1 = performance.now();
  for (const entry of spool.peek(payloads.length)) await spool.ack(entry.seq);
  await spool.flush?.();
  const ackMs = performance.now() - t1;
  report({
    name: 'spool append (durable), 500-record batch',
    value: (appendMs * 1000) / payloads.length,
    unit: 'µs/batch',
    note: `${payloads.length} batches of ~${Math.round(bytes / payloads.length / 1024)} KiB, fsync'd file + directory; ${Math.round(100_000 / (appendMs / 1000)).toLocaleString('en')} records/s, ${(bytes / 1048576 / (appendMs / 1000)).toFixed(0)} MB/s`,
  });
  report({
    name: 'spool ack (durable delete)',
    value: (ackMs * 1000) / payloads.length,
    unit: 'µs/batch',
    note: 'unlink + directory fsync per acknowledged batch',
  });
}

async function pipelineBench(work: string, report: (row: BenchRow) => void) {
  const flows = 20_000;
  const capture = path.join(work, 'replay.pcap');
  await writeFile(capture, buildDemoCapture({ flows }));
  const stack = await startLocalStack({
    dataDir: path.join(work, 'stack'),
    host: '127.0.0.1',
    port: 0,
    dynamoPort: 0,
    s3Port: 0,
    mqttPort: 0,
    inMemory: true,
    logger: silentLogger,
  });
  const deps = createIngestDeps(stack.config);
  try {
    const { configPath } = await registerAgent({
      apiUrl: stack.apiUrl,
      token: stack.token,
      id: 'bench-agent',
      dir: work,
      file: capture,
      patch: { flows: { batch_max_records: 500 } },
    });
    const t0 = performance.now();
    const agent = startAgentProcess(configPath, { LOG_LEVEL: 'warn' });
    // Polled from the subscriber's own counter: counting the table would load dynalite itself.
    await eventually(
      async () => (stack.ingest.stats().records >= flows ? 1 : undefined),
      `${flows} records in the store`,
      300_000,
      50,
    );
    const seconds = (performance.now() - t0) / 1000;
    await agent.stop();
    const stored = await deps.flows.count(DEFAULT_TENANT, 'bench-agent');
    if (stored !== flows)
      throw new Error(`expected ${flows} records in the store, found ${stored}`);
    report({
      name: 'agent → aedes → ingest → dynalite',
      value: flows / seconds,
      unit: 'records/s',
      note: `${flows.toLocaleString('en')} flow records from a replayed capture, agent start to the last record stored: ${seconds.toFixed(2)} s (includes agent start-up ~1 s)`,
    });

    // The floor: the same number of records written straight into the store by the repository.
    const direct = batchFlows('bench-direct', sampleFlows(flows, 0, Date.now() / 1000 - 60), {
      maxRecords: 500,
    }).map((p) => JSON.parse(p.toString()).records);
    await deps.agents.register(DEFAULT_TENANT, 'bench-direct');
    const t1 = performance.now();
    for (const records of direct)
      await deps.flows.putBatch(DEFAULT_TENANT, 'bench-direct', records);
    const storeSeconds = (performance.now() - t1) / 1000;
    report({
      name: 'store alone (FlowRepository.putBatch → dynalite)',
      value: flows / storeSeconds,
      unit: 'records/s',
      note: `the same ${flows.toLocaleString('en')} records with no agent or broker; pipeline/store = ${(flows / seconds / (flows / storeSeconds)).toFixed(2)}×`,
    });
  } finally {
    deps.clients.doc.destroy();
    await stack.stop();
  }
}

async function memoryBench(work: string, report: (row: BenchRow) => void) {
  if (process.getuid?.() !== 0) {
    console.log('agent memory at 100 000 flows: skipped (needs root to capture on loopback)');
    return;
  }
  const token = 'bench-control-token-0123456789abcdef';
  const tokenFile = path.join(work, 'control-token');
  await writeFile(tokenFile, token, { mode: 0o600 });
  const configPath = path.join(work, 'memory-agent.json');
  const port = 18_000 + Math.floor(Math.random() * 1000);
  await writeFile(
    configPath,
    JSON.stringify({
      agent_id: 'bench-memory',
      mqtt: { url: 'mqtt://127.0.0.1:9' },
      capture: { interface: 'lo', filter: 'udp and dst host 127.0.0.77' },
      flows: { table_size: 262_144, idle_timeout_sec: 600, active_timeout_sec: 1200 },
      spool: { dir: path.join(work, 'memory-spool') },
      control: { listen: `127.0.0.1:${port}`, token_file: tokenFile },
    }),
    { mode: 0o600 },
  );
  const agent = startAgentProcess(configPath, { LOG_LEVEL: 'warn' }, ['--allow-unsigned']);
  const metrics = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/packet_capture/capture/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await response.json()) as { active_flows: number };
  };
  const rss = async () => {
    const status = await readFile(`/proc/${agent.child.pid}/status`, 'utf8');
    const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1]);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  };
  try {
    await eventually(
      async () => ((await metrics()).active_flows >= 0 ? 1 : undefined),
      'control API',
    );
    const idle = await rss();
    // 100 000 UDP flows: two sockets × 50 000 destination ports on an address nothing answers.
    const sockets = [createSocket('udp4'), createSocket('udp4')];
    const payload = Buffer.alloc(32);
    for (const socket of sockets) {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      for (let dport = 1; dport <= 50_000; dport++) {
        socket.send(payload, dport, '127.0.0.77');
        if (dport % 2000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const active = await eventually(
      async () => {
        const m = await metrics();
        return m.active_flows >= 100_000 ? m.active_flows : undefined;
      },
      '100 000 active flows',
      60_000,
      500,
    );
    const loaded = await rss();
    for (const socket of sockets) socket.close();
    report({
      name: 'agent resident memory at 100 000 active flows',
      value: loaded.rss,
      unit: 'MB',
      note: `${active.toLocaleString('en')} flows live in a 262 144-slot table (capture on lo); idle agent ${idle.rss.toFixed(0)} MB, so ${(((loaded.rss - idle.rss) * 1048576) / active).toFixed(0)} B per flow beyond it; peak ${loaded.hwm.toFixed(0)} MB`,
    });
  } finally {
    await agent.stop();
  }
}
