import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SegmentDecryptor } from '../../../agent/evidence/segment-decryptor.js';
import {
  CHUNK_SIZE,
  CIPHER_SUITES,
  chunkNonce,
  cipherBySuite,
  decodeFrameWord,
  EvidenceError,
  encodeFrameWord,
  encodeHeaderPrefix,
  headerLength,
} from '../../../protocol/evidence/format.js';
import { encryptSegment, newMasterKey, patternBytes } from './segment-helpers.js';

// A reader and a writer written from the format's documentation (protocol/evidence/format.ts's
// header comment) with node:crypto alone, checked against the real encryptor and decryptor:
// if the comment and the code disagree, one of these fails.

const ALGORITHMS = { 1: 'aes-256-gcm', 2: 'aes-128-gcm', 3: 'chacha20-poly1305' } as const;
type Id = keyof typeof ALGORITHMS;

function open(alg: string, key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = d.update(sealed.subarray(0, sealed.length - 16));
  d.final();
  return out;
}

function seal(alg: string, key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

const kek = (mk: Buffer, segmentId: Buffer, id: number, length: number) =>
  Buffer.from(
    hkdfSync(
      'sha256',
      mk,
      segmentId,
      Buffer.concat([Buffer.from('wirefleet-evidence/v1 wrap'), Buffer.of(id)]),
      length,
    ),
  );

const keyIdOf = (mk: Buffer) =>
  createHmac('sha256', mk).update('wirefleet-evidence/v1 key id').digest().subarray(0, 16);

function nonceOf(segmentId: Buffer, i: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  segmentId.copy(n, 0, 0, 7);
  n.writeUInt32BE(i, 7);
  n[11] = final ? 1 : 0;
  return n;
}

function readFromDocs(mk: Buffer, file: Buffer): Buffer {
  expect(file.subarray(0, 8)).toEqual(Buffer.from('\x89WFE\r\n\x1a\n', 'latin1'));
  expect([file[8], file[10], file[11]]).toEqual([1, 16, 0]);
  const id = file[9] as Id;
  const alg = ALGORITHMS[id];
  const keyLength = id === 2 ? 16 : 32;
  expect(file.subarray(12, 28)).toEqual(keyIdOf(mk));
  const segmentId = file.subarray(28, 44);
  const c = file.readUInt16BE(44);
  const header = file.subarray(0, 46 + c + keyLength + 16);
  const dk = open(
    alg,
    kek(mk, segmentId, id, keyLength),
    Buffer.alloc(12),
    file.subarray(0, 46 + c),
    header.subarray(46 + c),
  );
  expect(dk.length).toBe(keyLength);
  const out: Buffer[] = [];
  let at = header.length;
  for (let i = 0; ; i++) {
    const word = file.subarray(at, at + 4);
    const final = (word.readUInt32BE(0) & 0x8000_0000) !== 0;
    const length = word.readUInt32BE(0) & 0x7fff_ffff;
    const sealed = file.subarray(at + 4, at + 4 + length + 16);
    out.push(open(alg, dk, nonceOf(segmentId, i, final), Buffer.concat([header, word]), sealed));
    at += 4 + length + 16;
    if (final) break;
  }
  expect(at).toBe(file.length);
  return Buffer.concat(out);
}

function writeFromDocs(mk: Buffer, id: Id, plaintext: Buffer, context: Buffer): Buffer {
  const alg = ALGORITHMS[id];
  const keyLength = id === 2 ? 16 : 32;
  const segmentId = randomBytes(16);
  const dk = randomBytes(keyLength);
  const prefix = Buffer.alloc(46 + context.length);
  Buffer.from('\x89WFE\r\n\x1a\n', 'latin1').copy(prefix, 0);
  prefix[8] = 1;
  prefix[9] = id;
  prefix[10] = 16;
  keyIdOf(mk).copy(prefix, 12);
  segmentId.copy(prefix, 28);
  prefix.writeUInt16BE(context.length, 44);
  context.copy(prefix, 46);
  const header = Buffer.concat([
    prefix,
    seal(alg, kek(mk, segmentId, id, keyLength), Buffer.alloc(12), prefix, dk),
  ]);
  const parts: Buffer[] = [header];
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK_SIZE));
  for (let i = 0; i < count; i++) {
    const chunk = plaintext.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
    const final = i === count - 1;
    const word = Buffer.alloc(4);
    word.writeUInt32BE((final ? 0x8000_0000 : 0) + chunk.length);
    parts.push(
      word,
      seal(alg, dk, nonceOf(segmentId, i, final), Buffer.concat([header, word]), chunk),
    );
  }
  return Buffer.concat(parts);
}

describe('the documented format (an independent reader and writer)', () => {
  const master = newMasterKey();
  it.each(CIPHER_SUITES)('%s: the documented reader opens what the encryptor wrote', (suite) => {
    for (const size of [0, 5, CHUNK_SIZE, 2 * CHUNK_SIZE + 3]) {
      const plaintext = patternBytes(size, size);
      const segment = encryptSegment(master, plaintext, suite);
      expect(readFromDocs(master.bytes, segment).equals(plaintext)).toBe(true);
    }
  });

  it.each(CIPHER_SUITES)('%s: the decryptor opens what the documented writer wrote', (suite) => {
    const id = cipherBySuite(suite)!.id as Id;
    const context = Buffer.from('{"agent_id":"edge-1","seq":7}');
    const plaintext = patternBytes(CHUNK_SIZE + 9, 1);
    const d = new SegmentDecryptor(master);
    const events = d.push(writeFromDocs(master.bytes, id, plaintext, context));
    d.end();
    const start = events.find((e) => e.type === 'segment');
    expect(Buffer.from(start!.header.context).toString()).toBe(context.toString());
    const got = Buffer.concat(events.flatMap((e) => (e.type === 'plaintext' ? [e.bytes] : [])));
    expect(got).toEqual(plaintext);
  });
});

describe('header and frame codec', () => {
  const prefix = () =>
    encodeHeaderPrefix({
      cipher: cipherBySuite('AES-128-GCM')!,
      keyId: new Uint8Array(16).fill(1),
      segmentId: new Uint8Array(16).fill(2),
      context: new Uint8Array(3),
    });

  it('computes the header length from the fixed part: 46 + context + key + tag', () => {
    expect(headerLength(prefix())).toBe(46 + 3 + 16 + 16);
  });

  it.each([
    [0, 0x00, 'not-a-segment'],
    [8, 2, 'unsupported'],
    [9, 0, 'unsupported'],
    [9, 4, 'unsupported'],
    [10, 17, 'unsupported'],
    [11, 1, 'bad-header'],
    [44, 0x04, 'bad-header'], // context length 1027
  ])('refuses byte %i = %i as %s', (offset, value, reason) => {
    const h = prefix();
    h[offset] = value;
    try {
      headerLength(h);
      expect.unreachable('accepted');
    } catch (error) {
      expect((error as EvidenceError).reason).toBe(reason);
    }
  });

  it('frame words: bit 31 is the final flag, the rest the plaintext length', () => {
    expect(Buffer.from(encodeFrameWord(CHUNK_SIZE, false)).readUInt32BE(0)).toBe(0x10000);
    expect(Buffer.from(encodeFrameWord(5, true)).readUInt32BE(0)).toBe(0x8000_0005);
    expect(decodeFrameWord(encodeFrameWord(5, true), 3)).toEqual({
      final: true,
      plaintextLength: 5,
    });
    expect(decodeFrameWord(encodeFrameWord(0, true), 0)).toEqual({
      final: true,
      plaintextLength: 0,
    });
    const refuse = (word: number, index: number) =>
      expect(() =>
        decodeFrameWord(Buffer.from([word >>> 24, word >>> 16, word >>> 8, word]), index),
      ).toThrow(EvidenceError);
    refuse(0x8000_0000, 1); // an empty final chunk after data
    refuse(0x0000_ffff, 0); // a short chunk that is not final
    refuse(0x8001_0001, 0); // longer than a chunk
    refuse(0x4001_0000, 0); // reserved bits set
    expect(() => encodeFrameWord(CHUNK_SIZE + 1, true)).toThrow(RangeError);
  });

  it('chunk nonces: 7 bytes of segment id, a big-endian counter, the flag', () => {
    const id = Uint8Array.from({ length: 16 }, (_, i) => i + 0xa0);
    expect(Buffer.from(chunkNonce(id, 0x01020304, true)).toString('hex')).toBe(
      'a0a1a2a3a4a5a60102030401',
    );
    expect(Buffer.from(chunkNonce(id, 0, false)).toString('hex')).toBe('a0a1a2a3a4a5a60000000000');
    expect(() => chunkNonce(id, 2 ** 32, false)).toThrow(RangeError);
  });

  it('knows the spec names of the three ciphers, in any case', () => {
    expect(cipherBySuite('aes-256-gcm')?.id).toBe(1);
    expect(cipherBySuite('AES-128-GCM')?.keyLength).toBe(16);
    expect(cipherBySuite('CHACHA20-POLY1305')?.algorithm).toBe('chacha20-poly1305');
    expect(cipherBySuite('aes-256-cbc')).toBeUndefined();
  });
});
