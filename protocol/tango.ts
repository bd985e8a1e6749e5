import { checkUint, need, viewOf } from './bytes.js';
import type { Decoded } from './decoded.js';
import { DecodeError } from './errors.js';
import { decodeEthernet, ETHERTYPE_IPV6, type EthernetHeader } from './ethernet.js';
import { IPPROTO_UDP } from './ip-protocols.js';
import { decodeIPv4, type IPv4Header } from './ipv4.js';
import { decodeIPv6, type IPv6Header } from './ipv6.js';
import { decodeUdp, type UdpHeader, udpChecksumValid } from './udp.js';

// Tango tunnel frames (issue 12; spec/tango-packet-layout.md; written by native/src/tango.c):
// Ethernet / IPv6 / UDP (both ports TANGO_UDP_PORT) / the 10-byte Tango header / inner IPv4.
// Header, big-endian, fields right-aligned in byte-aligned containers; padding bits must be 0:
//   byte 0 path_id (3 bits) | bytes 1-2 timestamp (12 bits, 2^20 ns ticks) | bytes 3-6 signature
//   | bytes 7-8 sequence | byte 9 book signature (1 bit)

export const TANGO_UDP_PORT = 61042;
export const TANGO_HEADER_LENGTH = 10;
/** The timestamp's unit: 2^20 ns = 1.048576 ms; the 12-bit field wraps every 4.295 s. */
export const TANGO_TICK_NS = 1_048_576;
export const TANGO_MAX_PATH_ID = 7;

export interface TangoHeader {
  pathId: number;
  timestamp: number;
  signature: number;
  sequence: number;
  book: 0 | 1;
}

export function encodeTangoHeader(h: TangoHeader): Uint8Array {
  const out = new Uint8Array(TANGO_HEADER_LENGTH);
  const v = viewOf(out);
  out[0] = checkUint('tango', 'pathId', h.pathId, TANGO_MAX_PATH_ID);
  v.setUint16(1, checkUint('tango', 'timestamp', h.timestamp, 0xfff));
  v.setUint32(3, checkUint('tango', 'signature', h.signature, 0xffffffff));
  v.setUint16(7, checkUint('tango', 'sequence', h.sequence, 0xffff));
  out[9] = checkUint('tango', 'book', h.book, 1);
  return out;
}

export function decodeTangoHeader(bytes: Uint8Array): Decoded<TangoHeader> {
  need(bytes, 0, TANGO_HEADER_LENGTH, 'tango', 'header');
  const v = viewOf(bytes);
  const stamp = v.getUint16(1);
  if (bytes[0]! & 0xf8) {
    throw new DecodeError(
      'tango',
      'invalid',
      `path_id byte 0x${hex2(bytes[0]!)} sets padding bits`,
      0,
    );
  }
  if (stamp & 0xf000) {
    throw new DecodeError(
      'tango',
      'invalid',
      `timestamp 0x${stamp.toString(16)} sets padding bits`,
      1,
    );
  }
  if (bytes[9]! & 0xfe) {
    throw new DecodeError(
      'tango',
      'invalid',
      `book byte 0x${hex2(bytes[9]!)} sets padding bits`,
      9,
    );
  }
  return {
    header: {
      pathId: bytes[0]!,
      timestamp: stamp,
      signature: v.getUint32(3),
      sequence: v.getUint16(7),
      book: bytes[9]! as 0 | 1,
    },
    headerLength: TANGO_HEADER_LENGTH,
    payload: bytes.subarray(TANGO_HEADER_LENGTH),
  };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The 12-bit timestamp a sender clock reading (epoch ns) goes out with. */
export const tangoTimestampOf = (ns: bigint): number => Number((ns >> 20n) & 0xfffn);

export interface TangoFrame {
  ethernet: EthernetHeader;
  ipv6: IPv6Header;
  udp: UdpHeader;
  /** Over the IPv6 pseudo-header; a zero checksum is invalid over IPv6. */
  udpChecksumValid: boolean;
  tango: TangoHeader;
  innerIPv4: IPv4Header;
  /** The whole inner IPv4 packet (header included), a view into the frame. */
  inner: Uint8Array;
}

/**
 * Decodes a whole tunnel frame. Throws DecodeError 'unsupported' for frames that are not Tango
 * (not IPv6, not UDP, another port), and the layer's own DecodeError for malformed ones. The
 * inner packet must fill the rest of the UDP datagram exactly.
 */
export function decodeTangoFrame(frame: Uint8Array, options: { port?: number } = {}): TangoFrame {
  const port = options.port ?? TANGO_UDP_PORT;
  const eth = decodeEthernet(frame);
  if (eth.header.etherType !== ETHERTYPE_IPV6) {
    throw new DecodeError(
      'tango',
      'unsupported',
      `ethertype 0x${eth.header.etherType.toString(16)} is not IPv6`,
      12,
    );
  }
  const ip = decodeIPv6(eth.payload);
  if (ip.header.nextHeader !== IPPROTO_UDP) {
    throw new DecodeError(
      'tango',
      'unsupported',
      `IPv6 next header ${ip.header.nextHeader} is not UDP`,
    );
  }
  const udp = decodeUdp(ip.payload);
  if (udp.header.dstPort !== port) {
    throw new DecodeError('tango', 'unsupported', `UDP port ${udp.header.dstPort} is not ${port}`);
  }
  const tango = decodeTangoHeader(udp.payload);
  const inner = tango.payload;
  const ipv4 = decodeIPv4(inner);
  if (ipv4.header.totalLength !== inner.length) {
    throw new DecodeError(
      'tango',
      'invalid',
      `inner IPv4 total length ${ipv4.header.totalLength} but ${inner.length} bytes follow the header`,
    );
  }
  return {
    ethernet: eth.header,
    ipv6: ip.header,
    udp: udp.header,
    udpChecksumValid: udpChecksumValid(ip.payload, { src: ip.header.src, dst: ip.header.dst }),
    tango: tango.header,
    innerIPv4: ipv4.header,
    inner,
  };
}
