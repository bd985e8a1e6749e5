// RFC 1071 Internet checksum. Sums are carried in a JS number (exact up to 2^53) and folded at
// the end, which is far beyond any packet size we handle.

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** 16-bit folded one's-complement sum of big-endian words (odd tail padded with zero), not complemented. */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (even !== data.length) sum += data[even]! << 8;
  return fold(sum);
}

/**
 * Final checksum over the logical concatenation of `chunks`. A chunk of odd length shifts the
 * word alignment of everything after it, so the byte parity is tracked across chunk borders.
 */
export function internetChecksum(...chunks: Uint8Array[]): number {
  let sum = 0;
  let odd = false;
  for (const chunk of chunks) {
    let i = 0;
    if (odd && chunk.length > 0) {
      sum += chunk[0]!;
      i = 1;
      odd = false;
    }
    const rest = chunk.subarray(i);
    sum = onesComplementSum(rest, sum);
    if (rest.length % 2 === 1) odd = true;
  }
  return ~fold(sum) & 0xffff;
}
