import { checkUint, need, viewOf } from './bytes.js';
import { onesComplementSum } from './checksum.js';
import type { Decoded } from './decoded.js';
import { DecodeError, EncodeError } from './errors.js';
import { IPPROTO_TCP } from './ip-protocols.js';
import { type PseudoHeader, pseudoHeaderSum } from './pseudo-header.js';

// TCP segments (RFC 9293 §3.1). The NS bit (RFC 3540, historic) is not exposed.

/** Bits of the TCP flags byte (offset 13). */
export const TCP_FLAGS = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export type TcpFlagName = keyof typeof TCP_FLAGS;

/** Display order used by flow records ("SYN|ACK|FIN"), not bit order. */
export const TCP_FLAG_ORDER: readonly TcpFlagName[] = [
  'SYN',
  'ACK',
  'FIN',
  'RST',
  'PSH',
  'URG',
  'ECE',
  'CWR',
];

/** Flags byte as "SYN|ACK|FIN" in TCP_FLAG_ORDER; "" for none. */
export function formatTcpFlags(flags: number): string {
  return TCP_FLAG_ORDER.filter((name) => (flags & TCP_FLAGS[name]) !== 0).join('|');
}

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes (the wire field counts 32-bit words). */
  dataOffset: number;
  flags: number;
  window: number;
  checksum: number;
  urgentPointer: number;
  options: Uint8Array;
}

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** OR of TCP_FLAGS values. */
  flags: number;
  /** Default 65535. */
  window?: number;
  urgentPointer?: number;
  /** Raw option bytes, already padded: length must be a multiple of 4 and at most 40. */
  options?: Uint8Array;
}

export function encodeTcp(h: TcpFields, payload: Uint8Array, pseudo: PseudoHeader): Uint8Array {
  checkUint('tcp', 'srcPort', h.srcPort, 0xffff);
  checkUint('tcp', 'dstPort', h.dstPort, 0xffff);
  checkUint('tcp', 'seq', h.seq, 0xffffffff);
  checkUint('tcp', 'ack', h.ack, 0xffffffff);
  checkUint('tcp', 'flags', h.flags, 0xff);
  const window = checkUint('tcp', 'window', h.window ?? 0xffff, 0xffff);
  const urgent = checkUint('tcp', 'urgentPointer', h.urgentPointer ?? 0, 0xffff);
  const options = h.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) {
    throw new EncodeError(
      'tcp',
      `options length must be a multiple of 4 up to 40, got ${options.length}`,
    );
  }
  const headerLength = 20 + options.length;
  const length = headerLength + payload.length;
  // IPv4 total length caps a segment at 65535 - 20; IPv6 payload length at 65535.
  if (length > 0xffff) throw new EncodeError('tcp', `segment length ${length} exceeds 65535`);
  const out = new Uint8Array(length);
  const v = viewOf(out);
  v.setUint16(0, h.srcPort);
  v.setUint16(2, h.dstPort);
  v.setUint32(4, h.seq);
  v.setUint32(8, h.ack);
  out[12] = (headerLength / 4) << 4;
  out[13] = h.flags;
  v.setUint16(14, window);
  v.setUint16(18, urgent);
  out.set(options, 20);
  out.set(payload, headerLength);
  const sum = onesComplementSum(out, pseudoHeaderSum(pseudo, IPPROTO_TCP, length, 'tcp'));
  // Unlike UDP, a TCP checksum of 0 is sent as is (0 has no special meaning here).
  v.setUint16(16, ~sum & 0xffff);
  return out;
}

/** The payload is everything after the header: TCP has no length field, the IP layer bounds it. */
export function decodeTcp(segment: Uint8Array): Decoded<TcpHeader> {
  need(segment, 0, 20, 'tcp', 'header');
  const v = viewOf(segment);
  const dataOffset = (segment[12]! >> 4) * 4;
  if (dataOffset < 20) {
    throw new DecodeError('tcp', 'invalid', `data offset ${dataOffset} below 20`, 12);
  }
  need(segment, 0, dataOffset, 'tcp', 'header with options');
  return {
    header: {
      srcPort: v.getUint16(0),
      dstPort: v.getUint16(2),
      seq: v.getUint32(4),
      ack: v.getUint32(8),
      dataOffset,
      flags: segment[13]!,
      window: v.getUint16(14),
      checksum: v.getUint16(16),
      urgentPointer: v.getUint16(18),
      options: segment.subarray(20, dataOffset),
    },
    headerLength: dataOffset,
    payload: segment.subarray(dataOffset),
  };
}

/** `segment` must be exactly the TCP segment (header and payload) the IP layer carried. */
export function tcpChecksumValid(segment: Uint8Array, pseudo: PseudoHeader): boolean {
  decodeTcp(segment);
  const seed = pseudoHeaderSum(pseudo, IPPROTO_TCP, segment.length, 'tcp');
  return onesComplementSum(segment, seed) === 0xffff;
}
