// SipHash-2-4 (Aumasson and Bernstein, 2012) with 64- or 128-bit output, written from the
// reference C code (native/src/siphash.c) in BigInt arithmetic: clear rather than fast. It
// exists so that Tango signatures made in C can be checked by a second implementation.

const MASK = (1n << 64n) - 1n;

const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & MASK;

function readLe64(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

function writeLe64(out: Uint8Array, at: number, v: bigint) {
  for (let i = 0; i < 8; i++) out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** SipHash-2-4 of `message` under a 16-byte key; 8 or 16 output bytes, as the reference writes them. */
export function siphash24(
  key: Uint8Array,
  message: Uint8Array,
  outputLength: 8 | 16 = 8,
): Uint8Array {
  if (key.length !== 16) throw new RangeError('a SipHash key is 16 bytes');
  const k0 = readLe64(key, 0);
  const k1 = readLe64(key, 8);
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  if (outputLength === 16) v1 ^= 0xeen;

  const round = () => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const compress = (m: bigint) => {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };

  const whole = message.length - (message.length % 8);
  for (let at = 0; at < whole; at += 8) compress(readLe64(message, at));
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = message.length - 1; i >= whole; i--) {
    last |= BigInt(message[i]!) << BigInt(8 * (i - whole));
  }
  compress(last);

  const out = new Uint8Array(outputLength);
  v2 ^= outputLength === 16 ? 0xeen : 0xffn;
  for (let i = 0; i < 4; i++) round();
  writeLe64(out, 0, v0 ^ v1 ^ v2 ^ v3);
  if (outputLength === 8) return out;
  v1 ^= 0xddn;
  for (let i = 0; i < 4; i++) round();
  writeLe64(out, 8, v0 ^ v1 ^ v2 ^ v3);
  return out;
}
