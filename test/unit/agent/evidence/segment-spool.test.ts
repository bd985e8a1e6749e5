import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyFile } from '../../../../agent/evidence/key-file.js';
import type { MasterKey } from '../../../../agent/evidence/master-key.js';
import { encodeSegmentContext } from '../../../../agent/evidence/segment-context.js';
import { SegmentEncryptor } from '../../../../agent/evidence/segment-encryptor.js';
import {
  describeSegmentFile,
  type SegmentMeta,
  SegmentSpool,
  type SegmentSpoolOverflow,
  segmentFileName,
} from '../../../../agent/evidence/segment-spool.js';
import { toHex } from '../../../../protocol/evidence/format.js';

// The evidence spool on the real filesystem, with real encrypted segments.

let root: string;
let dir: string;
let key: MasterKey;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-segspool-'));
  dir = path.join(root, 'evidence');
  key = createKeyFile(path.join(root, 'evidence.key'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A real sealed segment of `size` random plaintext bytes with the recorder's context. */
function sealed(seq: number, size = 1000): { meta: SegmentMeta; parts: Buffer[] } {
  const enc = new SegmentEncryptor(key, {
    cipher: 'ChaCha20-Poly1305',
    context: encodeSegmentContext({
      agent_id: 'edge-1',
      seq,
      started_at: 1000 + seq,
      ended_at: 1001 + seq,
      packets: 7,
    }),
  });
  const parts = [enc.header, ...enc.push(randomBytes(size)), ...enc.finish()];
  const whole = Buffer.concat(parts);
  return { meta: describeSegmentFile(whole), parts };
}

const files = async (sub: string) => (await readdir(path.join(dir, sub))).sort();

describe('SegmentSpool', () => {
  it('keeps segments durably in sequence order and describes them from their own header', async () => {
    const spool = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    expect(spool.nextSeq()).toBe(0);
    expect(spool.nextSeq()).toBe(1);
    const a = sealed(0);
    const b = sealed(1);
    await spool.add(b.meta, b.parts);
    await spool.add(a.meta, a.parts);
    expect(spool.list().map((s) => s.meta.seq)).toEqual([0, 1]);
    expect(await files('segments')).toEqual([
      segmentFileName(0, a.meta.segment_id),
      segmentFileName(1, b.meta.segment_id),
    ]);
    expect(a.meta).toMatchObject({
      seq: 0,
      packets: 7,
      started_at: 1000,
      cipher: 'ChaCha20-Poly1305',
    });
    expect(a.meta.key_id).toBe(toHex(key.id));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await spool.list()[0]!.read()).toEqual(Buffer.concat(a.parts));

    // A new run finds the same segments, the same metadata, and continues the sequence.
    const again = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    expect(again.list().map((s) => s.meta)).toEqual([a.meta, b.meta]);
    expect(again.nextSeq()).toBe(2);
  });

  it('deletes only on confirm, never reuses a sequence after the spool empties, and counts uploads', async () => {
    const spool = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    const seg = sealed(spool.nextSeq());
    await spool.add(seg.meta, seg.parts);
    expect(await spool.confirm(seg.meta.segment_id)).toBe(true);
    expect(await spool.confirm(seg.meta.segment_id)).toBe(false);
    expect(await files('segments')).toEqual([]);
    expect(spool.stats()).toMatchObject({
      depth_segments: 0,
      uploaded_segments: 1,
      uploaded_bytes: seg.meta.bytes,
      last_seq: 0,
    });
    const again = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    expect(again.nextSeq()).toBe(1);
    expect(again.stats().uploaded_segments).toBe(1);
  });

  it('drops the oldest when full, counts it durably and says so', async () => {
    const overflows: SegmentSpoolOverflow[] = [];
    const one = sealed(0, 4000);
    const spool = await SegmentSpool.open({
      dir,
      maxBytes: one.meta.bytes * 2 + 10,
      onOverflow: (o) => overflows.push(o),
    });
    for (let seq = 0; seq < 4; seq++) {
      const seg = seq === 0 ? one : sealed(seq, 4000);
      spool.nextSeq();
      await spool.add(seg.meta, seg.parts);
    }
    expect(spool.list().map((s) => s.meta.seq)).toEqual([2, 3]);
    expect(overflows.map((o) => o.seqs)).toEqual([[0], [1]]);
    expect(overflows[1]).toMatchObject({ segments: 1, dropped_segments: 2 });
    expect((await files('segments')).length).toBe(2);
    const again = await SegmentSpool.open({ dir, maxBytes: one.meta.bytes * 2 + 10 });
    expect(again.stats()).toMatchObject({ dropped_segments: 2, depth_segments: 2, last_seq: 3 });
    // A lowered bound applies at the next start, counted the same way.
    const smaller: SegmentSpoolOverflow[] = [];
    const lowered = await SegmentSpool.open({
      dir,
      maxBytes: one.meta.bytes + 10,
      onOverflow: (o) => smaller.push(o),
    });
    expect(lowered.list().map((s) => s.meta.seq)).toEqual([3]);
    expect(smaller[0]!.seqs).toEqual([2]);
  });

  it('refuses a segment larger than the whole bound', async () => {
    const seg = sealed(0, 5000);
    const spool = await SegmentSpool.open({ dir, maxBytes: 1000 });
    await expect(spool.add(seg.meta, seg.parts)).rejects.toThrow(
      /exceeds the evidence spool bound/,
    );
    expect(await files('segments')).toEqual([]);
  });

  it('moves refused segments aside, outside the queue, and still never reuses their sequence', async () => {
    const spool = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    const seg = sealed(spool.nextSeq());
    await spool.add(seg.meta, seg.parts);
    expect(await spool.refuse(seg.meta.segment_id, 'too_old: test')).toBe(true);
    expect(spool.list()).toEqual([]);
    expect(await files('refused')).toEqual([segmentFileName(0, seg.meta.segment_id)]);
    const again = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    expect(again.list()).toEqual([]);
    expect(again.stats().refused_segments).toBe(1);
    expect(again.nextSeq()).toBe(1);
  });

  it('after a crash: discards half-written temp files, and sets aside a file that is not a whole segment', async () => {
    const spool = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    const good = sealed(spool.nextSeq());
    await spool.add(good.meta, good.parts);
    // What kill -9 in the middle of a write leaves: a temp file never renamed.
    await writeFile(
      path.join(dir, 'segments', `.tmp-${segmentFileName(1, 'ab'.repeat(16))}.1234`),
      'partial',
    );
    // A file whose header does not parse under a segment's name (damage from outside).
    const damaged = segmentFileName(5, 'cd'.repeat(16));
    await writeFile(
      path.join(dir, 'segments', damaged),
      Buffer.concat(sealed(5).parts).subarray(0, 30),
    );
    const again = await SegmentSpool.open({ dir, maxBytes: 1 << 20 });
    expect(again.list().map((s) => s.meta)).toEqual([good.meta]);
    expect(await files('segments')).toEqual([segmentFileName(0, good.meta.segment_id)]);
    expect(await files('refused')).toEqual([damaged]);
    // Its number stays used.
    expect(again.nextSeq()).toBe(6);
    // Nothing written holds the plaintext's pcap magic or anything but the segment magic.
    const bytes = await readFile(
      path.join(dir, 'segments', segmentFileName(0, good.meta.segment_id)),
    );
    expect(bytes.subarray(0, 4).toString('hex')).toBe('89574645');
  });
});
