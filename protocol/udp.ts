import { checkUint, need, viewOf } from './bytes.js';
import { internetChecksum } from './checksum.js';
import type { Decoded } from './decoded.js';
import { DecodeError, EncodeError } from './errors.js';
import { IPPROTO_UDP } from './ip-protocols.js';
import { type PseudoHeader, pseudoHeaderBytes } from './pseudo-header.js';

export type { PseudoHeader } from './pseudo-header.js';

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
}

export type UdpChecksumOption =
  | { checksum: 'compute'; pseudo: PseudoHeader }
  // `pseudo` is optional here only so that a zero checksum over IPv6 can be refused.
  | { checksum: 'zero'; pseudo?: PseudoHeader };

const pseudoBytes = (p: PseudoHeader, udpLength: number) =>
  pseudoHeaderBytes(p, IPPROTO_UDP, udpLength, 'udp');

export function encodeUdp(
  h: { srcPort: number; dstPort: number },
  payload: Uint8Array,
  opts: UdpChecksumOption,
): Uint8Array {
  checkUint('udp', 'srcPort', h.srcPort, 0xffff);
  checkUint('udp', 'dstPort', h.dstPort, 0xffff);
  const length = 8 + payload.length;
  if (length > 0xffff) throw new EncodeError('udp', `datagram length ${length} exceeds 65535`);
  const out = new Uint8Array(length);
  const v = viewOf(out);
  v.setUint16(0, h.srcPort);
  v.setUint16(2, h.dstPort);
  v.setUint16(4, length);
  out.set(payload, 8);
  if (opts.checksum === 'zero') {
    // RFC 8200 §8.1: IPv6 UDP checksums are mandatory (RFC 6935 tunnel exceptions not supported).
    if (opts.pseudo && pseudoBytes(opts.pseudo, length).v6) {
      throw new EncodeError('udp', 'a zero checksum is not allowed over IPv6');
    }
    return out;
  }
  const sum = internetChecksum(pseudoBytes(opts.pseudo, length).bytes, out);
  // RFC 768: a computed 0 is sent as all ones, since 0 means "no checksum".
  v.setUint16(6, sum === 0 ? 0xffff : sum);
  return out;
}

export function decodeUdp(datagram: Uint8Array): Decoded<UdpHeader> {
  need(datagram, 0, 8, 'udp', 'header');
  const v = viewOf(datagram);
  const length = v.getUint16(4);
  if (length < 8) throw new DecodeError('udp', 'invalid', `length field ${length} below 8`, 4);
  if (length > datagram.length) {
    throw new DecodeError(
      'udp',
      'truncated',
      `length field ${length} exceeds ${datagram.length} available bytes`,
      4,
    );
  }
  return {
    header: { srcPort: v.getUint16(0), dstPort: v.getUint16(2), length, checksum: v.getUint16(6) },
    headerLength: 8,
    payload: datagram.subarray(8, length),
  };
}

/** Zero means "not computed": fine over IPv4, never valid over IPv6. */
export function udpChecksumValid(datagram: Uint8Array, pseudo: PseudoHeader): boolean {
  const { header } = decodeUdp(datagram);
  const { v6, bytes } = pseudoBytes(pseudo, header.length);
  if (header.checksum === 0) return !v6;
  return internetChecksum(bytes, datagram.subarray(0, header.length)) === 0;
}
