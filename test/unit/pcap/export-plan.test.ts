import { describe, expect, it } from 'vitest';
import { exportJobView } from '../../../functions/pcap/export-job.js';
import {
  type ExportSegment,
  planExport,
  readSegments,
} from '../../../functions/pcap/export-plan.js';
import type { ExportJob } from '../../../functions/store/export-jobs.js';
import type { PacketFilter, StoredPacket } from '../../../functions/store/packets.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(16, '0'));

/** selectIds over a sorted id list, as the repository answers it (newest first, capped). */
function idSource(all: string[]) {
  const calls: { limit: number }[] = [];
  return {
    calls,
    async *selectIds(
      _tenant: string,
      _filter: PacketFilter,
      options: { newestFirst: boolean; limit: number },
    ) {
      calls.push({ limit: options.limit });
      const ordered = options.newestFirst ? [...all].reverse() : all;
      yield* ordered.slice(0, options.limit);
    },
  };
}

const packet = (id: string): StoredPacket => ({
  id,
  timestampUs: 0,
  model: 'm',
  workloadType: 'general',
  record: {} as StoredPacket['record'],
  frame: new Uint8Array(0),
});

describe('planExport', () => {
  it('cuts the newest `count` ids into oldest-first segments that cover each id once', async () => {
    const all = ids(25);
    const plan = await planExport(
      idSource(all),
      't',
      { count: 23, filter: {} },
      { segmentPackets: 5 },
    );
    expect(plan.exceeds).toBe(false);
    expect(plan.packets).toBe(23);
    // The newest 23 are ids 2..24; segments are cut from the newest end.
    expect(plan.segments).toEqual([
      { fromId: all[2], toId: all[4], count: 3 },
      { fromId: all[5], toId: all[9], count: 5 },
      { fromId: all[10], toId: all[14], count: 5 },
      { fromId: all[15], toId: all[19], count: 5 },
      { fromId: all[20], toId: all[24], count: 5 },
    ]);
  });

  it('stops reading once more than stopAfter match, and says so', async () => {
    const source = idSource(ids(50));
    const plan = await planExport(source, 't', { count: 40, filter: {} }, { stopAfter: 10 });
    expect(plan).toEqual({ packets: 11, segments: [], exceeds: true });
    expect(source.calls).toEqual([{ limit: 11 }]);
  });

  it('plans a selection at or under stopAfter as usual', async () => {
    const plan = await planExport(
      idSource(ids(10)),
      't',
      { count: 40, filter: {} },
      { stopAfter: 10 },
    );
    expect(plan.exceeds).toBe(false);
    expect(plan.packets).toBe(10);
  });

  it('plans one packet by id without reading', async () => {
    const source = idSource(ids(3));
    const plan = await planExport(source, 't', { count: 1, filter: {}, packetId: 'abc' });
    expect(plan.segments).toEqual([{ fromId: 'abc', toId: 'abc', count: 1 }]);
    expect(source.calls).toHaveLength(0);
  });

  it('finds nothing when nothing matches', async () => {
    expect(await planExport(idSource([]), 't', { count: 5, filter: {} })).toEqual({
      packets: 0,
      segments: [],
      exceeds: false,
    });
  });
});

describe('readSegments', () => {
  const segments: ExportSegment[] = Array.from({ length: 6 }, (_, i) => ({
    fromId: `s${i}`,
    toId: `s${i}`,
    count: 2,
  }));

  it('yields in segment order while reading at most `concurrency` segments at once', async () => {
    let active = 0;
    let peak = 0;
    const started: string[] = [];
    // Later segments answer sooner, so order must come from the reader, not from timing.
    const read = async function* (segment: ExportSegment) {
      started.push(segment.fromId);
      active++;
      peak = Math.max(peak, active);
      const index = Number(segment.fromId.slice(1));
      await new Promise((resolve) => setTimeout(resolve, (6 - index) * 3));
      active--;
      yield packet(`${segment.fromId}-a`);
      yield packet(`${segment.fromId}-b`);
    };
    const out: string[] = [];
    for await (const p of readSegments(read, segments, 3)) out.push(p.id);
    expect(out).toEqual(segments.flatMap((s) => [`${s.fromId}-a`, `${s.fromId}-b`]));
    expect(peak).toBe(3);
    expect(started).toEqual(segments.map((s) => s.fromId));
  });

  it('passes a read failure on to the consumer', async () => {
    const read = async function* (segment: ExportSegment) {
      if (segment.fromId === 's3') throw new Error('store down');
      yield packet(segment.fromId);
    };
    const out: string[] = [];
    await expect(
      (async () => {
        for await (const p of readSegments(read, segments, 2)) out.push(p.id);
      })(),
    ).rejects.toThrow('store down');
    expect(out).toEqual(['s0', 's1', 's2']);
  });
});

describe('exportJobView', () => {
  const job = (patch: Partial<ExportJob>): ExportJob => ({
    exportId: 'exp_000000000000000000000000',
    tenant: 't',
    status: 'running',
    request: { count: 10, format: 'pcap', filter: {} },
    createdAt: 1000,
    startedAt: 1000,
    finishedAt: null,
    packets: 0,
    bytes: 0,
    window: null,
    file: null,
    error: null,
    expiresAt: 1000 + 86_400,
    ...patch,
  });

  it('shows a job whose worker died as failed once no worker can still be running it', () => {
    expect(exportJobView(job({}), 1000 + 60).status).toBe('running');
    const dead = exportJobView(job({}), 1000 + 16 * 60);
    expect(dead.status).toBe('failed');
    expect(dead.error?.code).toBe('export_interrupted');
    const neverStarted = exportJobView(job({ status: 'queued', startedAt: null }), 1000 + 16 * 60);
    expect(neverStarted.error?.code).toBe('export_not_started');
  });

  it('leaves finished jobs as they are', () => {
    const done = job({ status: 'done' });
    expect(exportJobView(done, 1000 + 10 * 86_400)).toBe(done);
  });
});
