import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { siphash24 } from '../../../protocol/siphash.js';
import { prng, randomBytes } from './helpers.js';

// The reference vectors the C tests use (native/test/siphash_vectors.h, from the SipHash
// authors' repository): key 00..0f, message 00..len-1, for len 0..63.
const vectorsFile = new URL('../../../native/test/siphash_vectors.h', import.meta.url);

function table(name: string): Uint8Array[] {
  const text = readFileSync(vectorsFile, 'utf8');
  const body = new RegExp(`${name}\\[64\\]\\[\\d+\\] = \\{([\\s\\S]*?)\\n\\};`).exec(text)?.[1];
  if (!body) throw new Error(`${name} not found in ${vectorsFile.pathname}`);
  return [...body.matchAll(/\{([^{}]*)\}/g)].map((row) =>
    Uint8Array.from(row[1]!.split(',').map((b) => Number.parseInt(b.trim(), 16))),
  );
}

const key = Uint8Array.from({ length: 16 }, (_, i) => i);
const message = (length: number) => Uint8Array.from({ length }, (_, i) => i);

describe('SipHash-2-4 (protocol/siphash.ts)', () => {
  it('gives the 64 reference 64-bit outputs', () => {
    const vectors = table('vectors_sip64');
    expect(vectors).toHaveLength(64);
    vectors.forEach((want, len) => {
      expect(Array.from(siphash24(key, message(len))), `length ${len}`).toEqual(Array.from(want));
    });
  });

  it('gives the 64 reference 128-bit outputs', () => {
    const vectors = table('vectors_sip128');
    expect(vectors).toHaveLength(64);
    vectors.forEach((want, len) => {
      expect(Array.from(siphash24(key, message(len), 16)), `length ${len}`).toEqual(
        Array.from(want),
      );
    });
  });

  it("matches the paper's appendix example, a129ca6149be45e5", () => {
    const out = siphash24(key, message(15));
    expect(new DataView(out.buffer).getBigUint64(0, true)).toBe(0xa129ca6149be45e5n);
  });

  it('depends on every key and message byte', () => {
    const rand = prng(7);
    const msg = randomBytes(rand, 37);
    const base = Array.from(siphash24(key, msg));
    for (let i = 0; i < 16; i++) {
      const k = key.slice();
      k[i]! ^= 1;
      expect(Array.from(siphash24(k, msg))).not.toEqual(base);
    }
    for (let i = 0; i < msg.length; i++) {
      const m = msg.slice();
      m[i]! ^= 0x80;
      expect(Array.from(siphash24(key, m))).not.toEqual(base);
    }
    expect(() => siphash24(key.subarray(1), msg)).toThrow(RangeError);
  });
});
