import { isIPv4, parseIPv4, parseIPv6 } from './address.js';
import { viewOf } from './bytes.js';
import { onesComplementSum } from './checksum.js';
import { EncodeError } from './errors.js';

// The IPv4 (RFC 768/793) and IPv6 (RFC 8200 §8.1) pseudo-headers that UDP, TCP and ICMPv6
// checksums cover.

/** Addresses of the enclosing IP header; the family is detected from the text form. */
export type PseudoHeader = { src: string; dst: string };

/**
 * Pseudo-header bytes for an upper-layer packet of `length` bytes. `layer` names the caller in
 * the EncodeError thrown for mixed or unparsable addresses.
 */
export function pseudoHeaderBytes(
  p: PseudoHeader,
  protocol: number,
  length: number,
  layer: string,
): { v6: boolean; bytes: Uint8Array } {
  if (isIPv4(p.src) && isIPv4(p.dst)) {
    const b = new Uint8Array(12);
    b.set(parseIPv4(p.src), 0);
    b.set(parseIPv4(p.dst), 4);
    b[9] = protocol;
    viewOf(b).setUint16(10, length);
    return { v6: false, bytes: b };
  }
  let src: Uint8Array;
  let dst: Uint8Array;
  try {
    src = parseIPv6(p.src);
    dst = parseIPv6(p.dst);
  } catch {
    throw new EncodeError(
      layer,
      `pseudo-header needs two IPv4 or two IPv6 addresses: ${p.src}, ${p.dst}`,
    );
  }
  const b = new Uint8Array(40);
  b.set(src, 0);
  b.set(dst, 16);
  viewOf(b).setUint32(32, length);
  b[39] = protocol;
  return { v6: true, bytes: b };
}

/** Folded one's-complement sum of the pseudo-header, to seed `onesComplementSum` of the packet. */
export function pseudoHeaderSum(
  p: PseudoHeader,
  protocol: number,
  length: number,
  layer: string,
): number {
  return onesComplementSum(pseudoHeaderBytes(p, protocol, length, layer).bytes);
}
