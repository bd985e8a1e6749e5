import { parseIPv4 } from '../../protocol/address.js';

export interface FiveTuple {
  src: string;
  dst: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
}

/** FNV-1a over the inner 5-tuple: stable per flow, as RFC 9300 §12 suggests for ECMP. */
export function flowHash(t: FiveTuple): number {
  const bytes = new Uint8Array(13);
  bytes.set(parseIPv4(t.src), 0);
  bytes.set(parseIPv4(t.dst), 4);
  bytes[8] = t.protocol;
  bytes[9] = t.srcPort >>> 8;
  bytes[10] = t.srcPort & 0xff;
  bytes[11] = t.dstPort >>> 8;
  bytes[12] = t.dstPort & 0xff;
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Outer UDP source port in the dynamic range 49152-65535 (never below 4341, see research §2.1). */
export function encapsulationSourcePort(hash: number): number {
  return 49152 + (hash % 16384);
}
