import { formatIPv4, parseIPv4 } from './address.js';
import { checkUint, need, viewOf } from './bytes.js';
import { onesComplementSum } from './checksum.js';
import type { Decoded } from './decoded.js';
import { DecodeError, EncodeError } from './errors.js';

export * from './ip-protocols.js';

export interface IPv4Header {
  ihl: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes (the wire field counts 8-byte units). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  checksumValid: boolean;
  src: string;
  dst: string;
  options: Uint8Array;
}

export interface IPv4Fields {
  src: string;
  dst: string;
  protocol: number;
  /** Default 64. */
  ttl?: number;
  dscp?: number;
  ecn?: number;
  identification?: number;
  /** Default true: we never want routers to fragment generated traffic. */
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes; must be a multiple of 8. */
  fragmentOffset?: number;
  /** Raw option bytes, already padded: length must be a multiple of 4 and at most 40. */
  options?: Uint8Array;
}

export function encodeIPv4(h: IPv4Fields, payload: Uint8Array): Uint8Array {
  const options = h.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) {
    throw new EncodeError(
      'ipv4',
      `options length must be a multiple of 4 up to 40, got ${options.length}`,
    );
  }
  const ttl = checkUint('ipv4', 'ttl', h.ttl ?? 64, 255);
  const dscp = checkUint('ipv4', 'dscp', h.dscp ?? 0, 63);
  const ecn = checkUint('ipv4', 'ecn', h.ecn ?? 0, 3);
  const protocol = checkUint('ipv4', 'protocol', h.protocol, 255);
  const id = checkUint('ipv4', 'identification', h.identification ?? 0, 0xffff);
  const fragOffset = checkUint('ipv4', 'fragmentOffset', h.fragmentOffset ?? 0, 8191 * 8);
  if (fragOffset % 8 !== 0) throw new EncodeError('ipv4', 'fragmentOffset must be a multiple of 8');
  const headerLength = 20 + options.length;
  const totalLength = headerLength + payload.length;
  if (totalLength > 0xffff)
    throw new EncodeError('ipv4', `total length ${totalLength} exceeds 65535`);
  const src = parseIPv4(h.src);
  const dst = parseIPv4(h.dst);

  const out = new Uint8Array(totalLength);
  const v = viewOf(out);
  out[0] = 0x40 | (headerLength / 4);
  out[1] = (dscp << 2) | ecn;
  v.setUint16(2, totalLength);
  v.setUint16(4, id);
  const flags = ((h.dontFragment ?? true) ? 0x4000 : 0) | (h.moreFragments ? 0x2000 : 0);
  v.setUint16(6, flags | (fragOffset / 8));
  out[8] = ttl;
  out[9] = protocol;
  out.set(src, 12);
  out.set(dst, 16);
  out.set(options, 20);
  v.setUint16(10, ~onesComplementSum(out.subarray(0, headerLength)) & 0xffff);
  out.set(payload, headerLength);
  return out;
}

export function decodeIPv4(packet: Uint8Array): Decoded<IPv4Header> {
  need(packet, 0, 20, 'ipv4', 'header');
  const v = viewOf(packet);
  const version = packet[0]! >> 4;
  if (version !== 4) throw new DecodeError('ipv4', 'invalid', `version is ${version}, not 4`, 0);
  const ihl = packet[0]! & 0x0f;
  if (ihl < 5) throw new DecodeError('ipv4', 'invalid', `header length ${ihl * 4} below 20`, 0);
  const headerLength = ihl * 4;
  need(packet, 0, headerLength, 'ipv4', 'header with options');
  const totalLength = v.getUint16(2);
  if (totalLength < headerLength) {
    throw new DecodeError('ipv4', 'invalid', `total length ${totalLength} below header length`, 2);
  }
  if (totalLength > packet.length) {
    throw new DecodeError(
      'ipv4',
      'truncated',
      `total length ${totalLength} exceeds ${packet.length} available bytes`,
      2,
    );
  }
  const fragment = v.getUint16(6);
  const header: IPv4Header = {
    ihl,
    dscp: packet[1]! >> 2,
    ecn: packet[1]! & 0x03,
    totalLength,
    identification: v.getUint16(4),
    dontFragment: (fragment & 0x4000) !== 0,
    moreFragments: (fragment & 0x2000) !== 0,
    fragmentOffset: (fragment & 0x1fff) * 8,
    ttl: packet[8]!,
    protocol: packet[9]!,
    checksum: v.getUint16(10),
    // A correct header sums to 0xffff including its own checksum field.
    checksumValid: onesComplementSum(packet.subarray(0, headerLength)) === 0xffff,
    src: formatIPv4(packet, 12),
    dst: formatIPv4(packet, 16),
    options: packet.subarray(20, headerLength),
  };
  // Anything past totalLength is link-layer padding, not payload.
  return { header, headerLength, payload: packet.subarray(headerLength, totalLength) };
}
