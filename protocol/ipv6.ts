import { formatIPv6, parseIPv6 } from './address.js';
import { checkUint, need, viewOf } from './bytes.js';
import type { Decoded } from './decoded.js';
import { DecodeError, EncodeError } from './errors.js';

export interface IPv6Header {
  trafficClass: number;
  dscp: number;
  ecn: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export function encodeIPv6(
  h: {
    src: string;
    dst: string;
    nextHeader: number;
    hopLimit?: number;
    dscp?: number;
    ecn?: number;
    flowLabel?: number;
  },
  payload: Uint8Array,
): Uint8Array {
  const nextHeader = checkUint('ipv6', 'nextHeader', h.nextHeader, 255);
  const hopLimit = checkUint('ipv6', 'hopLimit', h.hopLimit ?? 64, 255);
  const dscp = checkUint('ipv6', 'dscp', h.dscp ?? 0, 63);
  const ecn = checkUint('ipv6', 'ecn', h.ecn ?? 0, 3);
  const flowLabel = checkUint('ipv6', 'flowLabel', h.flowLabel ?? 0, 0xfffff);
  // Jumbograms (RFC 2675) would need a hop-by-hop option; we never produce them.
  if (payload.length > 0xffff)
    throw new EncodeError('ipv6', `payload length ${payload.length} exceeds 65535`);
  const src = parseIPv6(h.src);
  const dst = parseIPv6(h.dst);
  const out = new Uint8Array(40 + payload.length);
  const v = viewOf(out);
  const trafficClass = (dscp << 2) | ecn;
  v.setUint32(0, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  v.setUint16(4, payload.length);
  out[6] = nextHeader;
  out[7] = hopLimit;
  out.set(src, 8);
  out.set(dst, 24);
  out.set(payload, 40);
  return out;
}

export function decodeIPv6(packet: Uint8Array): Decoded<IPv6Header> {
  need(packet, 0, 40, 'ipv6', 'header');
  const v = viewOf(packet);
  const word = v.getUint32(0);
  const version = word >>> 28;
  if (version !== 6) throw new DecodeError('ipv6', 'invalid', `version is ${version}, not 6`, 0);
  const trafficClass = (word >>> 20) & 0xff;
  const payloadLength = v.getUint16(4);
  if (40 + payloadLength > packet.length) {
    throw new DecodeError(
      'ipv6',
      'truncated',
      `payload length ${payloadLength} exceeds ${packet.length - 40} available bytes`,
      4,
    );
  }
  const header: IPv6Header = {
    trafficClass,
    dscp: trafficClass >> 2,
    ecn: trafficClass & 0x03,
    flowLabel: word & 0xfffff,
    payloadLength,
    nextHeader: packet[6]!,
    hopLimit: packet[7]!,
    src: formatIPv6(packet, 8),
    dst: formatIPv6(packet, 24),
  };
  // Extension headers stay in the payload; nextHeader names the first of them.
  return { header, headerLength: 40, payload: packet.subarray(40, 40 + payloadLength) };
}
