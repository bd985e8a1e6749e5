import { DecodeError, EncodeError } from './errors.js';

// Internal helpers shared by the codecs; not part of the public API.

/** DataView over exactly the bytes of `b` (subarrays share a larger buffer). */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Guard before every DataView read so a RangeError can never escape a decoder. */
export function need(b: Uint8Array, offset: number, length: number, layer: string, what: string) {
  if (offset < 0 || length < 0 || offset + length > b.length) {
    throw new DecodeError(
      layer,
      'truncated',
      `${what}: need ${length} bytes at offset ${offset}, have ${Math.max(0, b.length - offset)}`,
      offset,
    );
  }
}

/** Validate an integer field for an encoder. */
export function checkUint(layer: string, name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(layer, `${name} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

/** Round up to a 32-bit boundary (safe for lengths above 2^31, unlike bit masks). */
export const pad4 = (n: number) => Math.ceil(n / 4) * 4;
