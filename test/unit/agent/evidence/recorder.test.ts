import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyFile, KeyFileError } from '../../../../agent/evidence/key-file.js';
import type { MasterKey } from '../../../../agent/evidence/master-key.js';
import { type EvidenceEventType, SegmentRecorder } from '../../../../agent/evidence/recorder.js';
import { parseSegmentContext } from '../../../../agent/evidence/segment-context.js';
import { SegmentDecryptor } from '../../../../agent/evidence/segment-decryptor.js';
import { SegmentSpool } from '../../../../agent/evidence/segment-spool.js';

// The recorder with a real key file, the real encryptor and the real spool on disk; the pcap
// segments are built here as the engine builds them (nanosecond pcap, little-endian).

let root: string;
let keyFile: string;
let key: MasterKey;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-recorder-'));
  keyFile = path.join(root, 'keys', 'evidence.key');
  key = createKeyFile(keyFile);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function pcapSegment(packets: number, size = 300): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b23c4d, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const records = [header];
  for (let i = 0; i < packets; i++) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(size, 8);
    rec.writeUInt32LE(size, 12);
    records.push(rec, randomBytes(size));
  }
  return Buffer.concat(records);
}

function decrypt(bytes: Buffer) {
  const d = new SegmentDecryptor(key);
  const plain: Buffer[] = [];
  let context: Uint8Array | undefined;
  for (const e of d.push(bytes)) {
    if (e.type === 'plaintext') plain.push(e.bytes);
    if (e.type === 'segment') context = e.header.context;
  }
  d.end();
  return { plaintext: Buffer.concat(plain), context: parseSegmentContext(context!) };
}

async function setup(maxBytes = 16 << 20) {
  const events: { type: EvidenceEventType; details?: Record<string, unknown> }[] = [];
  const spool = await SegmentSpool.open({ dir: path.join(root, 'evidence'), maxBytes });
  const recorder = new SegmentRecorder({
    agentId: 'edge-7',
    spool,
    segmentBytes: 1 << 20,
    segmentSeconds: 5,
    onEvent: (type, _severity, _message, details) =>
      events.push({ type, ...(details ? { details } : {}) }),
  });
  return { spool, recorder, events };
}

describe('SegmentRecorder', () => {
  it('seals each segment in memory, wipes the plaintext, and spools ciphertext that decrypts to it', async () => {
    const { spool, recorder } = await setup();
    expect(recorder.runOptions()).toBeUndefined();
    expect(recorder.enable({ cipher: 'aes-128-gcm', keyFile })).toMatchObject({
      enabled: true,
      cipher_suite: 'AES-128-GCM',
      key_file: keyFile,
    });
    const run = recorder.runOptions()!;
    expect(run).toMatchObject({ segmentBytes: 1 << 20, segmentSeconds: 5 });
    const originals: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const pcap = pcapSegment(20 + i * 200);
      originals.push(Buffer.from(pcap));
      run.onSegment(pcap, {
        sequence: i,
        packets: 20 + i * 200,
        first_seen: 10 + i,
        last_seen: 11 + i,
      });
      expect(pcap.every((b) => b === 0)).toBe(true);
    }
    await recorder.idle();
    expect(recorder.stats()).toMatchObject({
      segments_recorded: 3,
      packets_recorded: 660,
      write_failures: 0,
    });
    const segments = spool.list();
    expect(segments.map((s) => s.meta.seq)).toEqual([0, 1, 2]);
    for (const [i, s] of segments.entries()) {
      const bytes = await s.read();
      // No pcap magic (either byte order) anywhere in what reached the disk.
      expect(bytes.includes(Buffer.from('4d3cb2a1', 'hex'))).toBe(false);
      expect(bytes.includes(Buffer.from('a1b23c4d', 'hex'))).toBe(false);
      const { plaintext, context } = decrypt(bytes);
      expect(plaintext.equals(originals[i]!)).toBe(true);
      expect(context).toEqual({
        v: 1,
        agent_id: 'edge-7',
        seq: i,
        started_at: 10 + i,
        ended_at: 11 + i,
        packets: 20 + i * 200,
      });
      expect(s.meta).toMatchObject({
        cipher: 'AES-128-GCM',
        packets: 20 + i * 200,
        bytes: bytes.length,
      });
    }
    // Only segment files and the state file exist: no temp or plaintext file.
    expect(await readdir(path.join(root, 'evidence', 'segments'))).toHaveLength(3);
  });

  it('refuses a key file others can read, keeping what was there', async () => {
    const { recorder } = await setup();
    const loose = path.join(root, 'loose.key');
    await copyFile(keyFile, loose);
    await chmod(loose, 0o644);
    expect(() => recorder.enable({ cipher: 'AES-256-GCM', keyFile: loose })).toThrow(KeyFileError);
    expect(() => recorder.enable({ cipher: 'AES-256-GCM', keyFile: loose })).toThrow(/0644/);
    expect(recorder.enabled).toBe(false);
    recorder.enable({ cipher: 'AES-256-GCM', keyFile });
    expect(() => recorder.enable({ cipher: 'AES-256-GCM', keyFile: loose })).toThrow(KeyFileError);
    expect(recorder.state()).toMatchObject({ enabled: true, key_file: keyFile });
    expect(await readFile(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });

  it('counts a segment it cannot write and raises recording_failed', async () => {
    const { recorder, events, spool } = await setup(2000);
    recorder.enable({ cipher: 'AES-256-GCM', keyFile });
    recorder.record(pcapSegment(50), { sequence: 0, packets: 50, first_seen: 1, last_seen: 2 });
    await recorder.idle();
    expect(recorder.stats()).toMatchObject({ segments_recorded: 0, write_failures: 1 });
    expect(events).toEqual([
      { type: 'recording_failed', details: expect.objectContaining({ seq: 0, packets: 50 }) },
    ]);
    expect(spool.list()).toEqual([]);
  });
});

describe('SegmentRecorder under a lagging disk', () => {
  it('drops and counts segments past maxPendingBytes instead of holding them in memory', async () => {
    const spool = await SegmentSpool.open({ dir: path.join(root, 'lag'), maxBytes: 16 << 20 });
    const events: EvidenceEventType[] = [];
    const recorder = new SegmentRecorder({
      agentId: 'edge-7',
      spool,
      segmentBytes: 1 << 20,
      segmentSeconds: 5,
      maxPendingBytes: 50_000,
      onEvent: (type) => events.push(type),
    });
    recorder.enable({ cipher: 'AES-256-GCM', keyFile });
    // Handed over back to back, before any write can finish: about 31 KB sealed each.
    for (let i = 0; i < 4; i++) {
      recorder.record(pcapSegment(100), { sequence: i, packets: 100, first_seen: i, last_seen: i });
    }
    await recorder.idle();
    expect(recorder.stats()).toMatchObject({ segments_recorded: 1, write_failures: 3 });
    expect(events).toEqual(['recording_failed', 'recording_failed', 'recording_failed']);
    // The numbers of dropped segments stay used: the next one follows them.
    recorder.record(pcapSegment(10), { sequence: 4, packets: 10, first_seen: 9, last_seen: 9 });
    await recorder.idle();
    expect(spool.list().map((s) => s.meta.seq)).toEqual([0, 4]);
  });
});
