import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  describeDownload,
  exportPcap,
  type PcapDownload,
  presignCaptureFile,
  uploadCaptureFile,
} from '../functions/pcap/export.js';
import { planExport, READ_CONCURRENCY, SEGMENT_PACKETS } from '../functions/pcap/export-plan.js';
import { DEFAULT_ASYNC_EXPORT_THRESHOLD } from '../functions/pcap/export-runner.js';
import {
  captureFileStream,
  type FileStreamCounters,
  type PcapFormat,
} from '../functions/pcap/file-stream.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../functions/store/clients.js';
import { createRepositories } from '../functions/store/index.js';
import { createPacketIdGenerator } from '../functions/store/packet-id.js';
import type { StoredPacket } from '../functions/store/packets.js';
import { DEFAULT_TENANT } from '../functions/store/tenants.js';
import { readPcap } from '../protocol/pcap.js';
import { startTestStack } from '../test/helpers/local-stack.js';
import { routedPackets } from './queries.js';
import { type BenchRow, MB, now, sampleMemory } from './stats.js';

/** BENCH_PACKETS overrides the packet count (for a quick run); the default is the export maximum. */
const PACKETS = Number(process.env.BENCH_PACKETS ?? 100_000);
const PREBUILT = 512;
const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/** Stop loading the store after this long and export what got in (said in the notes). */
const LOAD_BUDGET_MS = Number(process.env.BENCH_LOAD_BUDGET_S ?? 120) * 1000;
const BATCH_SIZE = 25;
const LOAD_CONCURRENCY = 4;
/** Exports per mode, alternating, so a busy machine weighs on both alike. */
const ROUNDS = Number(process.env.BENCH_EXPORT_ROUNDS ?? 2);
const DYNALITE_PROCESS = path.join(import.meta.dirname, 'dynalite-process.ts');

type Report = (row: BenchRow) => void;

const mb = (bytes: number) => bytes / MB;
const count = (n: number) => n.toLocaleString('en-US');

/** A Writable that keeps nothing: counts bytes and chunks. */
class CountingSink extends Writable {
  bytes = 0;
  chunks = 0;
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.bytes += chunk.length;
    this.chunks++;
    callback();
  }
}

/**
 * `count` packets made lazily from a few hundred prebuilt routeQuery frames,
 * each with its own increasing ID and timestamp (10 per millisecond). Yields to
 * the event loop every 1000 packets, as a paged store read would, so the
 * memory sampler gets to run.
 */
export async function* lazyPackets(
  count: number,
  base: readonly StoredPacket[],
  startMs: number,
  totals: { frameBytes: number },
): AsyncGenerator<StoredPacket> {
  const nextId = createPacketIdGenerator();
  for (let i = 0; i < count; i++) {
    if (i % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
    const p = base[i % base.length]!;
    const ms = startMs + Math.floor(i / 10);
    const id = nextId(ms);
    const timestampUs = ms * 1000 + (i % 10);
    totals.frameBytes += p.frame.length;
    yield {
      ...p,
      id,
      timestampUs,
      record: { ...p.record, packet_id: id, timestamp: timestampUs / 1e6 },
    };
  }
}

async function buildOnce(
  format: PcapFormat,
  n: number,
  base: readonly StoredPacket[],
): Promise<{ ms: number; sink: CountingSink; counters: FileStreamCounters; frameBytes: number }> {
  const totals = { frameBytes: 0 };
  const counters: FileStreamCounters = { packets: 0, bytes: 0 };
  const sink = new CountingSink();
  const t0 = now();
  await pipeline(
    captureFileStream(lazyPackets(n, base, Date.UTC(2025, 0, 1), totals), format, counters),
    sink,
  );
  return { ms: now() - t0, sink, counters, frameBytes: totals.frameBytes };
}

/** (a) captureFileStream alone: no store, no disk, no network. */
async function buildBench(format: PcapFormat, report: Report): Promise<BenchRow[]> {
  const base = [...routedPackets(PREBUILT, Date.UTC(2025, 0, 1))];
  await buildOnce(format, 10_000, base); // warm-up
  const memory = sampleMemory(50);
  const { ms, sink, counters, frameBytes } = await buildOnce(format, PACKETS, base);
  const peak = memory.stop();

  if (counters.packets !== PACKETS)
    throw new Error(`${format}: streamed ${counters.packets} of ${PACKETS} packets`);
  if (sink.bytes !== counters.bytes)
    throw new Error(`${format}: sink got ${sink.bytes} B, counters say ${counters.bytes}`);
  if (format === 'pcap' && sink.bytes !== PCAP_HEADER + PACKETS * PCAP_RECORD_HEADER + frameBytes) {
    throw new Error(`pcap: ${sink.bytes} B is not header + records`);
  }
  const seconds = ms / 1000;
  const label = `${format} build, ${count(PACKETS)} packets in memory`;
  const what = `captureFileStream → counting sink, ${PREBUILT} prebuilt frames re-stamped lazily; ${(mb(sink.bytes)).toFixed(1)} MB in ${seconds.toFixed(2)} s`;
  const rows: BenchRow[] = [
    { name: `${label}: throughput`, value: PACKETS / seconds, unit: 'packets/s', note: what },
    {
      name: `${label}: bandwidth`,
      value: mb(sink.bytes) / seconds,
      unit: 'MB/s',
      note: 'MB = 2^20 bytes',
    },
    {
      name: `${label}: peak RSS`,
      value: mb(peak.peakRss),
      unit: 'MB',
      note: `+${mb(peak.peakRss - peak.baselineRss).toFixed(1)} MB over the ${mb(peak.baselineRss).toFixed(0)} MB before; ${peak.samples} samples at 50 ms`,
    },
    {
      name: `${label}: peak heap growth`,
      value: mb(peak.peakHeap - peak.baselineHeap),
      unit: 'MB',
      note: `heapUsed peak minus heapUsed after GC before the run (${mb(peak.baselineHeap).toFixed(0)} MB)`,
    },
  ];
  for (const row of rows) report(row);
  return rows;
}

/** The item PacketRepository.put writes (without its conditional check or the stats update). */
const toItem = (tenant: string, p: StoredPacket) => ({
  pk: tenant,
  sk: p.id,
  ts_us: p.timestampUs,
  model: p.model,
  workload_type: p.workloadType,
  size: p.frame.length,
  record: p.record,
  frame: p.frame,
});

/**
 * BatchWrite `want` routed packets (25 per call, a few calls in flight, unprocessed
 * items retried with backoff) until done or the time budget runs out.
 */
async function bulkLoad(
  doc: DynamoDBDocumentClient,
  table: string,
  tenant: string,
  want: number,
): Promise<{
  loaded: number;
  ms: number;
  generateMs: number;
  frameBytes: number;
  calls: number;
  retries: number;
}> {
  // One packet per millisecond, ending 10 s ago, so every ID is in the past.
  const source = routedPackets(want, Date.now() - want - 10_000);
  const stats = { loaded: 0, generateMs: 0, frameBytes: 0, calls: 0, retries: 0 };
  const t0 = now();
  let exhausted = false;

  const nextBatch = () => {
    const g0 = now();
    const batch: ReturnType<typeof toItem>[] = [];
    while (batch.length < BATCH_SIZE) {
      const next = source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      batch.push(toItem(tenant, next.value));
    }
    stats.generateMs += now() - g0;
    return batch;
  };

  const worker = async () => {
    while (!exhausted && now() - t0 < LOAD_BUDGET_MS) {
      const batch = nextBatch();
      if (batch.length === 0) return;
      let pending = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          stats.retries++;
          if (attempt > 10)
            throw new Error(`BatchWrite: ${pending.length} items still unprocessed`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(10 * 2 ** attempt, 1000)));
        }
        stats.calls++;
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
      stats.loaded += batch.length;
      for (const item of batch) stats.frameBytes += item.size;
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
  return { ...stats, ms: now() - t0 };
}

/** dynalite in a child process: the store on its own core, as DynamoDB is on its own machines. */
async function startDynaliteProcess(): Promise<{ endpoint: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', DYNALITE_PROCESS], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite process exited with ${code}`)));
    child.stdout!.once('data', (data: Buffer) => resolve(String(data).trim()));
  });
  return { endpoint, stop: () => child.kill('SIGTERM') };
}

type ExportMode = 'sequential' | 'segmented';

/**
 * One export of the newest `n` packets, timed from the keys pass to the
 * presigned URL. 'sequential' is the export as it was before segments: the
 * keys pass, then one ranged query streamed into the upload. 'segmented' is
 * exportPcap now: the keys pass cuts segments, read READ_CONCURRENCY at a time.
 */
async function timedExport(
  deps: Parameters<typeof exportPcap>[0],
  n: number,
  mode: ExportMode,
): Promise<{ seconds: number; download: PcapDownload }> {
  const request = { count: n, format: 'pcap' as const, filter: {} };
  const t0 = now();
  let download: PcapDownload;
  if (mode === 'segmented') {
    download = await exportPcap(deps, DEFAULT_TENANT, request);
  } else {
    const plan = await planExport(deps.packets, DEFAULT_TENANT, request, {
      segmentPackets: Number.POSITIVE_INFINITY,
    });
    const only = plan.segments[0]!;
    const file = await uploadCaptureFile(
      deps,
      DEFAULT_TENANT,
      request,
      deps.packets.select(
        DEFAULT_TENANT,
        {},
        {
          newestFirst: false,
          limit: only.count,
          fromId: only.fromId,
          toId: only.toId,
        },
      ),
    );
    download = describeDownload(file, await presignCaptureFile(deps, file));
  }
  return { seconds: (now() - t0) / 1000, download };
}

/** Checks that an export holds what it claims: bytes in S3, record count, time order. */
async function verifyExport(
  clients: StoreClients,
  bucket: string,
  download: PcapDownload,
  n: number,
  frameBytes: number,
): Promise<string> {
  const expectedBytes = PCAP_HEADER + n * PCAP_RECORD_HEADER + frameBytes;
  if (download.packets !== n)
    throw new Error(`export reported ${download.packets} packets, expected ${n}`);
  if (download.bytes !== expectedBytes) {
    throw new Error(`export reported ${download.bytes} B, expected ${expectedBytes}`);
  }
  const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: download.key }));
  if (head.ContentLength !== download.bytes) {
    throw new Error(`S3 object is ${head.ContentLength} B, export reported ${download.bytes}`);
  }
  const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: download.key }));
  const bytes = await object.Body!.transformToByteArray();
  let records = 0;
  let lastTs = -1n;
  for (const record of readPcap(bytes)) {
    if (record.timestampNs < lastTs) throw new Error(`record ${records} goes back in time`);
    lastTs = record.timestampNs;
    records++;
  }
  if (records !== n) throw new Error(`uploaded pcap holds ${records} records, expected ${n}`);
  return `verified: HeadObject ${count(head.ContentLength ?? 0)} B = reported bytes, readPcap counts ${count(records)} records in time order`;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const spread = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');

/**
 * (b) PCAP export end to end against one store: load it, then export the
 * newest n packets sequentially (as before) and segmented (now), alternating,
 * ROUNDS times each; then a threshold-sized synchronous download.
 */
async function exportAgainst(where: string, dynamoEndpoint: string | undefined, report: Report) {
  const stack = await startTestStack(dynamoEndpoint ? { dynamoEndpoint } : {});
  const clients = createStoreClients(stack.config);
  try {
    const { packets } = createRepositories(clients, stack.config);
    const deps = { packets, s3: clients.s3, bucket: stack.config.pcapBucket, urlTtlSeconds: 60 };
    const load = await bulkLoad(clients.doc, stack.config.packetsTable, DEFAULT_TENANT, PACKETS);
    const n = load.loaded;
    const partial =
      n < PACKETS
        ? `ONLY ${count(n)} of ${count(PACKETS)} packets: loading stopped at the ${LOAD_BUDGET_MS / 1000} s budget. `
        : '';
    const rows: BenchRow[] = [
      {
        name: `${where}: bulk load of ${count(n)} packets (export setup)`,
        value: load.ms / 1000,
        unit: 's',
        note: `${partial}${Math.round(n / (load.ms / 1000)).toLocaleString('en-US')} items/s, ${(load.generateMs / 1000).toFixed(1)} s of it routeQuery + item building in the same process; BatchWrite ×${BATCH_SIZE}, ${LOAD_CONCURRENCY} in flight, ${count(load.calls)} calls, ${load.retries} retries`,
      },
    ];
    report(rows[0]!);

    const seconds: Record<ExportMode, number[]> = { sequential: [], segmented: [] };
    let verified = '';
    let peakNote = '';
    let peakRss = 0;
    let lastBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['sequential', 'segmented'] as const) {
        const memory = mode === 'segmented' && round === ROUNDS - 1 ? sampleMemory(50) : undefined;
        const { seconds: s, download } = await timedExport(deps, n, mode);
        seconds[mode].push(s);
        if (memory) {
          const peak = memory.stop();
          peakRss = mb(peak.peakRss);
          peakNote = `+${mb(peak.peakRss - peak.baselineRss).toFixed(0)} MB over the ${mb(peak.baselineRss).toFixed(0)} MB before (which includes the loaded table when dynalite is in this process); heap growth ${mb(peak.peakHeap - peak.baselineHeap).toFixed(0)} MB; ${peak.samples} samples at 50 ms`;
          verified = await verifyExport(
            clients,
            stack.config.pcapBucket,
            download,
            n,
            load.frameBytes,
          );
          lastBytes = download.bytes;
        }
      }
    }
    const label = `${where}: export of ${count(n)} packets (pcap)`;
    const segmentedMean = mean(seconds.segmented);
    const sequentialMean = mean(seconds.sequential);
    const exportRows: BenchRow[] = [
      {
        name: `${label}, sequential reads (before): time`,
        value: sequentialMean,
        unit: 's',
        note: `${partial}mean of ${ROUNDS} (${spread(seconds.sequential)} s): keys pass, one ranged query streamed into the 5 MiB multipart upload, presign; ${count(Math.round(n / sequentialMean))} packets/s`,
      },
      {
        name: `${label}, segmented reads (now): time`,
        value: segmentedMean,
        unit: 's',
        note: `mean of ${ROUNDS} (${spread(seconds.segmented)} s), alternating with the sequential runs: keys pass cuts ${count(SEGMENT_PACKETS)}-packet segments, ${READ_CONCURRENCY} read at a time; ${count(Math.round(n / segmentedMean))} packets/s, ${(mb(lastBytes) / segmentedMean).toFixed(2)} MB/s; ${verified}`,
      },
      {
        name: `${label}: segmented vs sequential`,
        value: sequentialMean / segmentedMean,
        unit: '×',
        note: 'sequential time / segmented time (above 1: segmented is faster)',
      },
      { name: `${label}, segmented: peak RSS`, value: peakRss, unit: 'MB', note: peakNote },
    ];
    for (const row of exportRows) report(row);
    rows.push(...exportRows);

    // What a synchronous download at the async threshold costs: the longest a client waits for a 302.
    const threshold = Math.min(DEFAULT_ASYNC_EXPORT_THRESHOLD, n);
    const thresholdRuns: number[] = [];
    for (let i = 0; i < ROUNDS + 1; i++) {
      thresholdRuns.push((await timedExport(deps, threshold, 'segmented')).seconds);
    }
    const thresholdRow: BenchRow = {
      name: `${where}: synchronous download at the async threshold (${count(threshold)} packets), slowest of ${thresholdRuns.length}`,
      value: Math.max(...thresholdRuns),
      unit: 's',
      note: `runs: ${spread(thresholdRuns)} s (keys pass + segmented build + upload + presign); API Gateway cuts requests at ~30 s; above ${count(DEFAULT_ASYNC_EXPORT_THRESHOLD)} matching packets the API answers 202 and builds the file in an export job`,
    };
    report(thresholdRow);
    rows.push(thresholdRow);
    return rows;
  } finally {
    destroyStoreClients(clients);
    await stack.stop();
  }
}

/** (b) both stores: dynalite in this process (as the tests run it), then in its own process. */
async function storeExportBench(report: Report): Promise<BenchRow[]> {
  const rows = await exportAgainst('dynalite in process', undefined, report);
  const child = await startDynaliteProcess();
  try {
    rows.push(...(await exportAgainst('dynalite in its own process', child.endpoint, report)));
  } finally {
    child.stop();
  }
  return rows;
}

/** PCAP building: pure in-memory (pcap and pcapng), then the real export through the local stack. */
export async function pcapBench(report: Report = () => {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const format of ['pcap', 'pcapng'] as const)
    rows.push(...(await buildBench(format, report)));
  rows.push(...(await storeExportBench(report)));
  return rows;
}
