import { describe, expect, it } from 'vitest';
import { masterKeyFrom } from '../../../agent/evidence/master-key.js';
import { SegmentDecryptor } from '../../../agent/evidence/segment-decryptor.js';
import { SegmentEncryptor } from '../../../agent/evidence/segment-encryptor.js';
import {
  CHUNK_SIZE,
  CIPHER_SUITES,
  FRAME_WORD_LENGTH,
  TAG_LENGTH,
  toHex,
} from '../../../protocol/evidence/format.js';
import {
  decryptStream,
  encryptSegment,
  flipBit,
  layoutOf,
  newMasterKey,
  patternBytes,
} from './segment-helpers.js';

const SIZES = [
  0,
  1,
  CHUNK_SIZE - 1,
  CHUNK_SIZE,
  CHUNK_SIZE + 1,
  3 * CHUNK_SIZE,
  5 * 1024 * 1024 + 7,
];
const master = newMasterKey();

describe.each(CIPHER_SUITES)('%s segments', (cipher) => {
  it.each(SIZES)('round-trips %i bytes exactly, whole and in odd pieces', (size) => {
    const plaintext = patternBytes(size, size + 1);
    for (const piece of [size || 1, 1000, CHUNK_SIZE + 3]) {
      if (piece === 1000 && size > 300_000) continue; // the odd split is covered by the smaller sizes
      const segment = encryptSegment(master, plaintext, cipher, piece);
      const { headerLength, chunks } = layoutOf(segment, size);
      expect(segment.length).toBe(headerLength + SegmentEncryptor.payloadLength(size));
      expect(chunks.at(-1)!.length).toBe(size === 0 ? 0 : size - CHUNK_SIZE * (chunks.length - 1));
      for (const readPiece of [segment.length, 4099]) {
        const run = decryptStream(master, segment, readPiece);
        expect(run.error).toBeUndefined();
        expect(run.plaintext.equals(plaintext)).toBe(true);
        const end = run.events.at(-1);
        expect(end).toMatchObject({ type: 'segment-end', index: 1, chunks: chunks.length });
      }
    }
  });

  it('seals an empty plaintext as exactly one final, empty chunk', () => {
    const segment = encryptSegment(master, Buffer.alloc(0), cipher);
    const { chunks } = layoutOf(segment, 0);
    expect(chunks).toHaveLength(1);
    expect(segment.readUInt32BE(chunks[0]!.word)).toBe(0x8000_0000);
    expect(segment.length).toBe(chunks[0]!.end);
  });

  it('draws a fresh data key and segment id for every segment', () => {
    const plaintext = patternBytes(1000, 7);
    const a = encryptSegment(master, plaintext, cipher);
    const b = encryptSegment(master, plaintext, cipher);
    const { headerLength } = layoutOf(a, 1000);
    expect(a.subarray(28, 44).equals(b.subarray(28, 44))).toBe(false); // segment id
    expect(a.subarray(46, headerLength).equals(b.subarray(46, headerLength))).toBe(false); // wrapped key
    expect(a.subarray(headerLength).equals(b.subarray(headerLength))).toBe(false);
    // The same key id names the same master key.
    expect(a.subarray(12, 28).equals(b.subarray(12, 28))).toBe(true);
  });
});

/** Each case: a segment of 3.5 chunks, altered one way, must be refused. */
describe.each(CIPHER_SUITES)('%s: altered segments are refused', (cipher) => {
  const size = 3 * CHUNK_SIZE + CHUNK_SIZE / 2;
  const plaintext = patternBytes(size, 42);
  const segment = encryptSegment(master, plaintext, cipher);
  const { headerLength, chunks } = layoutOf(segment, size);

  /** Refused, and nothing at or after the damaged chunk was ever released. */
  function expectRefused(input: Uint8Array, firstBadChunk: number, reason?: string) {
    const run = decryptStream(master, input, 5000);
    expect(run.error, `accepted an altered segment (${reason})`).toBeDefined();
    if (reason) expect(run.error!.reason).toBe(reason);
    expect(run.plaintext.length).toBeLessThanOrEqual(firstBadChunk * CHUNK_SIZE);
    expect(run.plaintext.equals(plaintext.subarray(0, run.plaintext.length))).toBe(true);
    return run.error!;
  }

  it('a flipped bit in every header byte', () => {
    const reasons = new Set<string>();
    for (let offset = 0; offset < headerLength; offset++) {
      for (const bit of [0, 7]) {
        const error = expectRefused(flipBit(segment, offset, bit), 0);
        reasons.add(error.reason);
        // The key id field names another key: reported as the wrong key.
        if (offset >= 12 && offset < 28) expect(error.reason).toBe('wrong-key');
        if (offset >= 28) expect(error.reason).toMatch(/header-authentication|bad-header/);
      }
    }
    expect([...reasons].sort()).toEqual(
      expect.arrayContaining([
        'header-authentication',
        'not-a-segment',
        'unsupported',
        'wrong-key',
      ]),
    );
  });

  it('a flipped bit in every chunk: its length word, its ciphertext, every tag byte', () => {
    chunks.forEach((c, i) => {
      for (const offset of [c.word, c.word + 1, c.word + 2, c.word + 3]) {
        expectRefused(flipBit(segment, offset, 0), i);
        expectRefused(flipBit(segment, offset, 7), i);
      }
      for (const offset of [c.body, c.body + (c.length >> 1), c.tag - 1]) {
        expect(expectRefused(flipBit(segment, offset, 3), i).message).toContain(
          `chunk ${i + 1} failed authentication`,
        );
      }
      for (let offset = c.tag; offset < c.end; offset++) {
        expectRefused(flipBit(segment, offset, offset % 8), i, 'chunk-authentication');
      }
    });
  });

  it('truncation at every chunk boundary and between them', () => {
    // Chunks before the cut verify and come out of the decryptor (the CLI still writes nothing).
    chunks.forEach((c, i) => {
      // At the boundary before the chunk: the previous chunk did not carry the final flag.
      const error = expectRefused(segment.subarray(0, c.start), i, 'truncated');
      expect(error.message).toMatch(/truncated: no final chunk/);
      for (const cut of [c.word + 2, c.body + 1, c.body + (c.length >> 1), c.tag + 5, c.end - 1]) {
        expectRefused(segment.subarray(0, cut), i, 'truncated');
      }
    });
    expectRefused(segment.subarray(0, 0), 0, 'not-a-segment');
    for (const cut of [5, 20, headerLength - 1])
      expectRefused(segment.subarray(0, cut), 0, 'truncated');
  });

  it('chunks swapped, dropped or repeated within the segment', () => {
    const part = (i: number) => segment.subarray(chunks[i]!.start, chunks[i]!.end);
    const header = segment.subarray(0, headerLength);
    const build = (order: number[]) => Buffer.concat([header, ...order.map(part)]);
    expectRefused(build([1, 0, 2, 3]), 0, 'chunk-authentication');
    expectRefused(build([0, 2, 1, 3]), 1, 'chunk-authentication');
    expectRefused(build([0, 1, 3]), 2, 'chunk-authentication'); // dropped chunk 3
    expectRefused(build([0, 0, 1, 2, 3]), 1, 'chunk-authentication');
    // The final chunk moved forward: its counter no longer matches.
    expectRefused(build([0, 3]), 1, 'chunk-authentication');
  });

  it('chunks and headers swapped with another segment under the same key', () => {
    const other = encryptSegment(master, plaintext, cipher);
    const otherLayout = layoutOf(other, size);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const o = otherLayout.chunks[i]!;
      const spliced = Buffer.concat([
        segment.subarray(0, c.start),
        other.subarray(o.start, o.end),
        segment.subarray(c.end),
      ]);
      expectRefused(spliced, i, 'chunk-authentication');
    }
    // The other segment's header in front of this one's chunks.
    expectRefused(
      Buffer.concat([other.subarray(0, headerLength), segment.subarray(headerLength)]),
      0,
      'chunk-authentication',
    );
  });

  it('the final flag moved: a middle chunk marked final, the last one not', () => {
    const middle = Buffer.from(segment);
    middle.writeUInt32BE(0x8000_0000 + CHUNK_SIZE, chunks[1]!.word);
    expectRefused(middle, 1, 'chunk-authentication');
    const last = Buffer.from(segment);
    const c = chunks.at(-1)!;
    last.writeUInt32BE(c.length, c.word);
    expectRefused(last, chunks.length - 1, 'bad-frame');
  });

  it('trailing data after the final chunk', () => {
    for (const tail of [Buffer.of(0), Buffer.from('trailing garbage'), segment.subarray(0, 8)]) {
      const error = expectRefused(Buffer.concat([segment, tail]), chunks.length, undefined);
      expect(error.reason).toMatch(/trailing-data|truncated/);
    }
    expect(expectRefused(Buffer.concat([segment, Buffer.of(1, 2, 3)]), 99).reason).toBe(
      'trailing-data',
    );
  });

  it('the wrong key is named as such, with both key ids', () => {
    const wrong = newMasterKey();
    const run = decryptStream(wrong, segment);
    expect(run.error?.reason).toBe('wrong-key');
    expect(run.error?.message).toContain(toHex(master.id));
    expect(run.error?.message).toContain(toHex(wrong.id));
    expect(run.plaintext.length).toBe(0);
  });
});

describe('segment decryptor', () => {
  it('releases a chunk only once its tag has verified, never a partial chunk', () => {
    const size = 2 * CHUNK_SIZE + 100;
    const plaintext = patternBytes(size, 3);
    const segment = encryptSegment(master, plaintext, 'AES-256-GCM');
    const { chunks } = layoutOf(segment, size);
    const d = new SegmentDecryptor(master);
    let released = 0;
    const feed = (from: number, to: number, piece: number) => {
      for (let at = from; at < to; at += piece) {
        for (const e of d.push(segment.subarray(at, Math.min(to, at + piece)))) {
          if (e.type === 'plaintext') released += e.bytes.length;
        }
      }
    };
    let at = 0;
    for (const c of chunks) {
      // Everything of the chunk but its last tag byte, in uneven pieces: none of it comes out.
      const before = released;
      feed(at, c.end - 1, 997);
      expect(released).toBe(before);
      feed(c.end - 1, c.end, 1);
      expect(released - before).toBe(c.length);
      at = c.end;
    }
    d.end();
    expect(released).toBe(size);
  });

  it('holds at most one chunk beyond the piece it was just given', () => {
    const size = 40 * CHUNK_SIZE;
    const segment = encryptSegment(master, patternBytes(size, 9), 'ChaCha20-Poly1305');
    const d = new SegmentDecryptor(master);
    const piece = 256 * 1024;
    let peak = 0;
    for (let at = 0; at < segment.length; at += piece) {
      d.push(Buffer.from(segment.subarray(at, at + piece)));
      peak = Math.max(peak, d.bufferedBytes);
    }
    d.end();
    expect(peak).toBeLessThan(CHUNK_SIZE + FRAME_WORD_LENGTH + TAG_LENGTH);
  });

  it('reads concatenated segments of different ciphers one after another', () => {
    const parts = CIPHER_SUITES.map((_, i) => patternBytes(CHUNK_SIZE * i + 17 * i, i));
    const stream = Buffer.concat(parts.map((p, i) => encryptSegment(master, p, CIPHER_SUITES[i]!)));
    const run = decryptStream(master, stream, 3333);
    expect(run.error).toBeUndefined();
    expect(
      run.events.filter((e) => e.type === 'segment').map((e) => e.header.cipher.suite),
    ).toEqual([...CIPHER_SUITES]);
    const bySegment = parts.map((_, i) =>
      Buffer.concat(
        run.events.flatMap((e) => (e.type === 'plaintext' && e.segment === i + 1 ? [e.bytes] : [])),
      ),
    );
    expect(bySegment.map((p, i) => p.equals(parts[i]!))).toEqual([true, true, true]);
    // A second segment cut short, or one sealed under another key, is refused.
    const second = encryptSegment(master, parts[1]!, 'AES-128-GCM');
    const first = encryptSegment(master, parts[0]!, 'AES-256-GCM');
    expect(
      decryptStream(master, Buffer.concat([first, second.subarray(0, 30)])).error?.reason,
    ).toBe('truncated');
    const foreign = encryptSegment(newMasterKey(), parts[1]!, 'AES-256-GCM');
    const mixed = decryptStream(master, Buffer.concat([first, foreign]));
    expect(mixed.error?.reason).toBe('wrong-key');
    expect(mixed.error?.message).toContain('segment 2');
  });

  it('refuses to be used after a refusal', () => {
    const d = new SegmentDecryptor(master);
    expect(() => d.push(Buffer.from('not a segment at all'))).toThrow(/bad magic/);
    expect(() => d.push(Buffer.alloc(1))).toThrow(/decryptor is closed/);
  });

  it('a master key must be 32 bytes', () => {
    expect(() => masterKeyFrom(Buffer.alloc(16, 1))).toThrow(/32 bytes/);
  });
});
