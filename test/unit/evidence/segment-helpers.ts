import { randomBytes } from 'node:crypto';
import type { MasterKey } from '../../../agent/evidence/master-key.js';
import { masterKeyFrom } from '../../../agent/evidence/master-key.js';
import { type DecryptEvent, SegmentDecryptor } from '../../../agent/evidence/segment-decryptor.js';
import { SegmentEncryptor } from '../../../agent/evidence/segment-encryptor.js';
import {
  CHUNK_SIZE,
  type CipherSuite,
  EvidenceError,
  FIXED_HEADER_LENGTH,
  FRAME_WORD_LENGTH,
  TAG_LENGTH,
} from '../../../protocol/evidence/format.js';
import { prng } from '../../helpers/prng.js';

export const newMasterKey = (): MasterKey => masterKeyFrom(randomBytes(32));

/** Deterministic bytes, so a failure can be replayed. */
export function patternBytes(length: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (next() * 256) | 0;
  return out;
}

/** A whole segment, pushing the plaintext in pieces of `piece` bytes. */
export function encryptSegment(
  master: MasterKey,
  plaintext: Uint8Array,
  cipher: CipherSuite,
  piece = plaintext.length || 1,
): Buffer {
  const e = new SegmentEncryptor(master, { cipher });
  const parts: Buffer[] = [e.header];
  for (let at = 0; at < plaintext.length; at += piece) {
    parts.push(...e.push(plaintext.subarray(at, at + piece)));
  }
  parts.push(...e.finish());
  return Buffer.concat(parts);
}

export interface DecryptRun {
  events: DecryptEvent[];
  /** Only the plaintext the decryptor released. */
  plaintext: Buffer;
  error?: EvidenceError;
}

/** Feeds `input` in pieces; stops at the first refusal, keeping what was released before it. */
export function decryptStream(
  master: MasterKey,
  input: Uint8Array,
  piece = 256 * 1024,
): DecryptRun {
  const d = new SegmentDecryptor(master);
  const events: DecryptEvent[] = [];
  const released: Buffer[] = [];
  const take = (list: DecryptEvent[]) => {
    for (const e of list) {
      events.push(e);
      if (e.type === 'plaintext') released.push(Buffer.from(e.bytes));
    }
  };
  try {
    for (let at = 0; at < input.length; at += piece) {
      // A copy per piece: the decryptor keeps what it is given.
      take(d.push(Buffer.from(input.subarray(at, at + piece))));
    }
    d.end();
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return { events, plaintext: Buffer.concat(released), error };
  }
  return { events, plaintext: Buffer.concat(released) };
}

/** Byte ranges of a single segment's parts, from the documented layout. */
export function layoutOf(
  segment: Uint8Array,
  plaintextLength: number,
): {
  headerLength: number;
  chunks: { start: number; word: number; body: number; tag: number; end: number; length: number }[];
} {
  const contextLength = (segment[44]! << 8) | segment[45]!;
  const keyLength = segment[9] === 2 ? 16 : 32;
  const headerLength = FIXED_HEADER_LENGTH + contextLength + keyLength + TAG_LENGTH;
  const count = Math.max(1, Math.ceil(plaintextLength / CHUNK_SIZE));
  const chunks = [];
  let at = headerLength;
  for (let i = 0; i < count; i++) {
    const length = i < count - 1 ? CHUNK_SIZE : plaintextLength - CHUNK_SIZE * (count - 1);
    const start = at;
    const body = start + FRAME_WORD_LENGTH;
    const tag = body + length;
    const end = tag + TAG_LENGTH;
    chunks.push({ start, word: start, body, tag, end, length });
    at = end;
  }
  if (at !== segment.length) throw new Error(`layout ends at ${at}, segment has ${segment.length}`);
  return { headerLength, chunks };
}

export function flipBit(bytes: Uint8Array, offset: number, bit = 0): Buffer {
  const out = Buffer.from(bytes);
  out[offset]! ^= 1 << bit;
  return out;
}
