import { checkUint, need, viewOf } from './bytes.js';
import { DecodeError, EncodeError } from './errors.js';

// Classic libpcap savefile (pcap-savefile(5)): 24-byte file header, then 16-byte record headers.

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const PCAP_MEDIA_TYPE = 'application/vnd.tcpdump.pcap';

export type TimestampPrecision = 'micro' | 'nano';

export interface PcapFileHeader {
  byteOrder: 'little' | 'big';
  precision: TimestampPrecision;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  /** Low 16 bits of the link-type word. */
  linktype: number;
  /** FCS bytes appended to each packet, when the header's P bit announces it. */
  fcsLength?: number;
}

export interface CapturedPacket {
  /** Nanoseconds since the Unix epoch. */
  timestampNs: bigint;
  /** View into the input buffer, not a copy. */
  data: Uint8Array;
  originalLength: number;
}

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
// Seen as written by the opposite byte order.
const MAGIC_MICRO_SWAPPED = 0xd4c3b2a1;
const MAGIC_NANO_SWAPPED = 0x4d3cb2a1;
// Alexey Kuznetzov's patched libpcap format: recognised, but we do not read it.
const MAGIC_KUZNETZOV = 0xa1b2cd34;
const MAGIC_KUZNETZOV_SWAPPED = 0x34cdb2a1;
const PCAPNG_SHB = 0x0a0d0d0a;

const HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** Sanity bound on incl_len, in the spirit of libpcap's per-link-type maximum snaplen. */
const MAX_RECORD_LENGTH = 262144 * 4;
const NS_PER_S = 1_000_000_000n;

export function encodePcapHeader(o?: {
  linktype?: number;
  snaplen?: number;
  precision?: TimestampPrecision;
}): Uint8Array {
  const linktype = checkUint('pcap', 'linktype', o?.linktype ?? LINKTYPE_ETHERNET, 0xffff);
  const snaplen = checkUint('pcap', 'snaplen', o?.snaplen ?? 262144, 0xffffffff);
  const out = new Uint8Array(HEADER_LENGTH);
  const v = viewOf(out);
  v.setUint32(0, o?.precision === 'nano' ? MAGIC_NANO : MAGIC_MICRO, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  // thiszone and sigfigs stay 0, as every modern writer does.
  v.setUint32(16, snaplen, true);
  v.setUint32(20, linktype, true);
  return out;
}

export function encodePcapRecord(
  p: { timestampNs: bigint; data: Uint8Array; originalLength?: number },
  precision: TimestampPrecision,
): Uint8Array {
  if (p.timestampNs < 0n) throw new EncodeError('pcap', 'timestamp before the epoch');
  const seconds = p.timestampNs / NS_PER_S;
  if (seconds > 0xffffffffn) throw new EncodeError('pcap', 'timestamp beyond 32-bit seconds');
  const fraction = p.timestampNs % NS_PER_S;
  const sub = precision === 'nano' ? fraction : fraction / 1000n;
  const originalLength = p.originalLength ?? p.data.length;
  checkUint('pcap', 'originalLength', originalLength, 0xffffffff);
  if (originalLength < p.data.length) {
    throw new EncodeError('pcap', 'originalLength is smaller than the captured data');
  }
  const out = new Uint8Array(RECORD_HEADER_LENGTH + p.data.length);
  const v = viewOf(out);
  v.setUint32(0, Number(seconds), true);
  v.setUint32(4, Number(sub), true);
  v.setUint32(8, p.data.length, true);
  v.setUint32(12, originalLength, true);
  out.set(p.data, RECORD_HEADER_LENGTH);
  return out;
}

export function decodePcapHeader(bytes: Uint8Array): PcapFileHeader {
  need(bytes, 0, HEADER_LENGTH, 'pcap', 'file header');
  const v = viewOf(bytes);
  const magic = v.getUint32(0, false);
  let little: boolean;
  let precision: TimestampPrecision;
  switch (magic) {
    case MAGIC_MICRO:
    case MAGIC_MICRO_SWAPPED:
      little = magic === MAGIC_MICRO_SWAPPED;
      precision = 'micro';
      break;
    case MAGIC_NANO:
    case MAGIC_NANO_SWAPPED:
      little = magic === MAGIC_NANO_SWAPPED;
      precision = 'nano';
      break;
    case MAGIC_KUZNETZOV:
    case MAGIC_KUZNETZOV_SWAPPED:
      throw new DecodeError('pcap', 'unsupported', 'modified (Kuznetzov) pcap format', 0);
    case PCAPNG_SHB:
      throw new DecodeError('pcap', 'unsupported', 'this is a pcapng file', 0);
    default:
      throw new DecodeError('pcap', 'invalid', `unknown magic 0x${magic.toString(16)}`, 0);
  }
  const linkWord = v.getUint32(20, little);
  const header: PcapFileHeader = {
    byteOrder: little ? 'little' : 'big',
    precision,
    versionMajor: v.getUint16(4, little),
    versionMinor: v.getUint16(6, little),
    snaplen: v.getUint32(16, little),
    linktype: linkWord & 0xffff,
  };
  // Bit 26 (P) says the top nibble holds the FCS length in 16-bit words.
  if (linkWord & 0x04000000) header.fcsLength = (linkWord >>> 28) * 2;
  return header;
}

export function* readPcap(bytes: Uint8Array): Generator<CapturedPacket, void, undefined> {
  const header = decodePcapHeader(bytes);
  const little = header.byteOrder === 'little';
  const scale = header.precision === 'nano' ? 1n : 1000n;
  const v = viewOf(bytes);
  let at = HEADER_LENGTH;
  while (at < bytes.length) {
    need(bytes, at, RECORD_HEADER_LENGTH, 'pcap', 'record header');
    const seconds = v.getUint32(at, little);
    const sub = v.getUint32(at + 4, little);
    const inclLen = v.getUint32(at + 8, little);
    const origLen = v.getUint32(at + 12, little);
    if (inclLen > MAX_RECORD_LENGTH) {
      throw new DecodeError(
        'pcap',
        'invalid',
        `record length ${inclLen} is implausibly large`,
        at + 8,
      );
    }
    const start = at + RECORD_HEADER_LENGTH;
    need(bytes, start, inclLen, 'pcap', 'record data');
    yield {
      timestampNs: BigInt(seconds) * NS_PER_S + BigInt(sub) * scale,
      data: bytes.subarray(start, start + inclLen),
      originalLength: origLen,
    };
    at = start + inclLen;
  }
}
