import { DecodeError } from '../errors.js';
import { decodePcapHeader, type PcapFileHeader } from '../pcap.js';
import { EvidenceError } from './format.js';

/**
 * Joins the decrypted plaintexts of consecutive segments into what `wirefleet pcap decrypt`
 * writes. One segment: its plaintext, byte for byte (whatever it is). Two or more: one classic
 * pcap, namely the first segment's plaintext whole, then each later segment's records without
 * its 24-byte file header. Every segment must then be a classic pcap with the same magic (byte
 * order and timestamp precision), version and link-type word, and must end on a record
 * boundary; the joined header's snaplen becomes the largest of the segments' (patch()).
 * Records stay in segment order. Streaming: it holds at most one 24-byte header and one
 * 16-byte record header.
 */

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

interface PcapIdentity {
  header: Uint8Array;
  decoded: PcapFileHeader;
  littleEndian: boolean;
}

/** The segment's pcap file header, or undefined when its plaintext is not a classic pcap. */
function identify(head: Uint8Array): PcapIdentity | undefined {
  let decoded: PcapFileHeader;
  try {
    decoded = decodePcapHeader(head);
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
  return {
    header: head.slice(0, FILE_HEADER_LENGTH),
    decoded,
    littleEndian: decoded.byteOrder === 'little',
  };
}

/** Walks record headers through a stream to know whether it ends on a record boundary. */
class RecordWalker {
  private skip = 0;
  private partial = new Uint8Array(RECORD_HEADER_LENGTH);
  private have = 0;

  constructor(private readonly littleEndian: boolean) {}

  feed(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, bytes.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(RECORD_HEADER_LENGTH - this.have, bytes.length - at);
      this.partial.set(bytes.subarray(at, at + n), this.have);
      this.have += n;
      at += n;
      if (this.have === RECORD_HEADER_LENGTH) {
        const v = new DataView(this.partial.buffer);
        this.skip = v.getUint32(8, this.littleEndian);
        this.have = 0;
      }
    }
  }

  get atBoundary(): boolean {
    return this.skip === 0 && this.have === 0;
  }
}

interface SegmentState {
  index: number;
  /** Leading bytes kept until the file header is complete. */
  head: Uint8Array;
  headLength: number;
  identity?: PcapIdentity;
  walker?: RecordWalker;
}

export class PcapJoiner {
  private segments = 0;
  private first?: SegmentState;
  private current?: SegmentState;
  private maxSnaplen = 0;

  /** Starts segment `index` (from 1). */
  begin(index: number): void {
    this.segments++;
    this.current = { index, head: new Uint8Array(FILE_HEADER_LENGTH), headLength: 0 };
    if (this.segments === 2) this.requireJoinable(this.first!);
  }

  /** Plaintext of the current segment in; what to write out. */
  push(bytes: Uint8Array): Uint8Array[] {
    const s = this.current!;
    const out: Uint8Array[] = [];
    let rest = bytes;
    if (s.headLength < FILE_HEADER_LENGTH) {
      const n = Math.min(FILE_HEADER_LENGTH - s.headLength, rest.length);
      s.head.set(rest.subarray(0, n), s.headLength);
      s.headLength += n;
      // The first segment passes through untouched; later ones lose their file header.
      if (this.segments === 1) out.push(rest.subarray(0, n));
      rest = rest.subarray(n);
      if (s.headLength === FILE_HEADER_LENGTH) this.headerComplete(s);
    }
    if (rest.length > 0) {
      s.walker?.feed(rest);
      out.push(rest);
    }
    return out;
  }

  /** Ends the current segment. */
  end(): void {
    const s = this.current!;
    if (this.segments === 1) this.first = s;
    else this.requireJoinable(s);
    this.current = undefined;
  }

  /**
   * After the last segment: the bytes to write at `offset` in the output, when joining raised
   * the snaplen; undefined when the output is already final.
   */
  patch(): { offset: number; bytes: Uint8Array } | undefined {
    const first = this.first?.identity;
    if (this.segments < 2 || !first || this.maxSnaplen === first.decoded.snaplen) return undefined;
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, this.maxSnaplen, first.littleEndian);
    return { offset: 16, bytes };
  }

  private headerComplete(s: SegmentState): void {
    s.identity = identify(s.head);
    if (s.identity) {
      s.walker = new RecordWalker(s.identity.littleEndian);
      this.maxSnaplen = Math.max(this.maxSnaplen, s.identity.decoded.snaplen);
    }
    if (this.segments === 1) return;
    // A later segment: it must match the first, or its records would be misread.
    if (!s.identity) {
      throw new EvidenceError(
        'pcap-join',
        `segment ${s.index} is not a classic pcap; only pcap segments can be joined into one file`,
        { segment: s.index },
      );
    }
    const a = this.first!.identity!.decoded;
    const b = s.identity.decoded;
    const refuse = (what: string) => {
      throw new EvidenceError(
        'pcap-join',
        `segment ${s.index} ${what}; they cannot share one pcap`,
        {
          segment: s.index,
        },
      );
    };
    if (a.byteOrder !== b.byteOrder || a.precision !== b.precision) {
      refuse(
        `is a ${b.byteOrder}-endian pcap with ${b.precision}second timestamps, segment 1 ${a.byteOrder}-endian with ${a.precision}second`,
      );
    }
    if (a.versionMajor !== b.versionMajor || a.versionMinor !== b.versionMinor) {
      refuse(
        `has pcap version ${b.versionMajor}.${b.versionMinor}, segment 1 ${a.versionMajor}.${a.versionMinor}`,
      );
    }
    if (a.linktype !== b.linktype || a.fcsLength !== b.fcsLength) {
      const link = (h: PcapFileHeader) =>
        `${h.linktype}${h.fcsLength === undefined ? '' : ` (with a ${h.fcsLength}-byte FCS)`}`;
      refuse(`has link type ${link(b)}, segment 1 has ${link(a)}`);
    }
  }

  private requireJoinable(s: SegmentState): void {
    if (!s.identity) {
      throw new EvidenceError(
        'pcap-join',
        `segment ${s.index} is not a classic pcap; only pcap segments can be joined into one file`,
        { segment: s.index },
      );
    }
    if (!s.walker!.atBoundary) {
      throw new EvidenceError(
        'pcap-join',
        `segment ${s.index}'s pcap ends inside a record; it cannot be joined with the next`,
        { segment: s.index },
      );
    }
  }
}
