import { concatBytes } from '../../../protocol/bytes.js';
import { encodePcapHeader, encodePcapRecord, LINKTYPE_ETHERNET } from '../../../protocol/pcap.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
} from '../../../protocol/pcapng.js';
import type { Frame } from './frames.js';

/** Capture files of generated frames: classic pcap (either byte order, µs or ns) and pcapng. */

export type PcapVariant = {
  precision?: 'micro' | 'nano';
  byteOrder?: 'little' | 'big';
  snaplen?: number;
};

function swap32(b: Uint8Array, at: number) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint32(at, v.getUint32(at, true), false);
}

function swap16(b: Uint8Array, at: number) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint16(at, v.getUint16(at, true), false);
}

/** A classic pcap file (Ethernet) of `frames`; big-endian swaps every header field. */
export function writePcap(frames: readonly Frame[], o: PcapVariant = {}): Uint8Array {
  const precision = o.precision ?? 'micro';
  const header = encodePcapHeader({
    linktype: LINKTYPE_ETHERNET,
    precision,
    ...(o.snaplen === undefined ? {} : { snaplen: o.snaplen }),
  });
  const records = frames.map((f) =>
    encodePcapRecord(
      { timestampNs: f.tsNs, data: f.data, originalLength: f.originalLength },
      precision,
    ),
  );
  if (o.byteOrder === 'big') {
    swap32(header, 0);
    swap16(header, 4);
    swap16(header, 6);
    for (const at of [8, 12, 16, 20]) swap32(header, at);
    for (const r of records) for (const at of [0, 4, 8, 12]) swap32(r, at);
  }
  // An array, not spread arguments: 100 000+ records would overflow the call stack.
  return concatBytes([header, ...records]);
}

/** A pcapng file: one section, one Ethernet interface, Enhanced Packet Blocks. */
export function writePcapng(
  frames: readonly Frame[],
  o: { tsresolNanos?: boolean } = {},
): Uint8Array {
  const tsresolNanos = o.tsresolNanos ?? true;
  return concatBytes([
    encodeSectionHeader({ userAppl: 'wirefleet capture-gen' }),
    encodeInterfaceDescription({ linktype: LINKTYPE_ETHERNET, name: 'gen0', tsresolNanos }),
    ...frames.map((f) =>
      encodeEnhancedPacket(
        { timestampNs: f.tsNs, data: f.data, originalLength: f.originalLength },
        { tsresolNanos },
      ),
    ),
  ]);
}
