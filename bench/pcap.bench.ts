import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { exportPcap } from '../functions/pcap/export.js';
import {
  captureFileStream,
  type FileStreamCounters,
  type PcapFormat,
} from '../functions/pcap/file-stream.js';
import { createStoreClients, destroyStoreClients } from '../functions/store/clients.js';
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

/** (b) exportPcap end to end: dynalite (two passes) → captureFileStream → multipart upload into s3rver. */
async function storeExportBench(report: Report): Promise<BenchRow[]> {
  const stack = await startTestStack();
  const clients = createStoreClients(stack.config);
  try {
    const { packets } = createRepositories(clients, stack.config);
    const tenant = DEFAULT_TENANT;
    const load = await bulkLoad(clients.doc, stack.config.packetsTable, tenant, PACKETS);
    const n = load.loaded;
    const partial =
      n < PACKETS
        ? `ONLY ${count(n)} of ${count(PACKETS)} packets: loading stopped at the ${LOAD_BUDGET_MS / 1000} s budget. `
        : '';
    const loadRow: BenchRow = {
      name: `dynalite bulk load of ${count(n)} packets (export setup)`,
      value: load.ms / 1000,
      unit: 's',
      note: `${partial}${Math.round(n / (load.ms / 1000)).toLocaleString('en-US')} items/s, ${(load.generateMs / 1000).toFixed(1)} s of it routeQuery + item building in the same process; BatchWrite ×${BATCH_SIZE}, ${LOAD_CONCURRENCY} in flight, ${count(load.calls)} calls, ${load.retries} retries`,
    };
    report(loadRow);

    const memory = sampleMemory(50);
    const t0 = now();
    const download = await exportPcap(
      { packets, s3: clients.s3, bucket: stack.config.pcapBucket, urlTtlSeconds: 60 },
      tenant,
      { count: n, format: 'pcap', filter: {} },
    );
    const seconds = (now() - t0) / 1000;
    const peak = memory.stop();

    // Verify that the export measured what it claims.
    const expectedBytes = PCAP_HEADER + n * PCAP_RECORD_HEADER + load.frameBytes;
    if (download.packets !== n)
      throw new Error(`export reported ${download.packets} packets, expected ${n}`);
    if (download.bytes !== expectedBytes) {
      throw new Error(`export reported ${download.bytes} B, expected ${expectedBytes}`);
    }
    const head = await clients.s3.send(
      new HeadObjectCommand({ Bucket: stack.config.pcapBucket, Key: download.key }),
    );
    if (head.ContentLength !== download.bytes) {
      throw new Error(`S3 object is ${head.ContentLength} B, export reported ${download.bytes}`);
    }
    const object = await clients.s3.send(
      new GetObjectCommand({ Bucket: stack.config.pcapBucket, Key: download.key }),
    );
    const bytes = await object.Body!.transformToByteArray();
    let records = 0;
    let lastTs = -1n;
    for (const record of readPcap(bytes)) {
      if (record.timestampNs < lastTs) throw new Error(`record ${records} goes back in time`);
      lastTs = record.timestampNs;
      records++;
    }
    if (records !== n) throw new Error(`uploaded pcap holds ${records} records, expected ${n}`);

    const label = `exportPcap pcap, ${count(n)} packets via dynalite + s3rver`;
    const verified = `verified: HeadObject ${count(head.ContentLength ?? 0)} B = reported bytes, readPcap counts ${count(records)} records in time order`;
    const rows: BenchRow[] = [
      loadRow,
      {
        name: `${label}: throughput`,
        value: n / seconds,
        unit: 'packets/s',
        note: `${partial}${seconds.toFixed(1)} s for keys pass + streaming pass + 5 MiB multipart upload, all emulators in this process; ${verified}`,
      },
      {
        name: `${label}: bandwidth`,
        value: mb(download.bytes) / seconds,
        unit: 'MB/s',
        note: `${mb(download.bytes).toFixed(1)} MB file`,
      },
      {
        name: `${label}: peak RSS`,
        value: mb(peak.peakRss),
        unit: 'MB',
        note: `+${mb(peak.peakRss - peak.baselineRss).toFixed(0)} MB over the ${mb(peak.baselineRss).toFixed(0)} MB before (which includes dynalite's in-memory table); heap growth ${mb(peak.peakHeap - peak.baselineHeap).toFixed(0)} MB; ${peak.samples} samples at 50 ms`,
      },
    ];
    for (const row of rows.slice(1)) report(row);
    return rows;
  } finally {
    destroyStoreClients(clients);
    await stack.stop();
  }
}

/** PCAP building: pure in-memory (pcap and pcapng), then the real export through the local stack. */
export async function pcapBench(report: Report = () => {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const format of ['pcap', 'pcapng'] as const)
    rows.push(...(await buildBench(format, report)));
  rows.push(...(await storeExportBench(report)));
  return rows;
}
