import { Readable } from 'node:stream';
import { encodePcapHeader, encodePcapRecord, LINKTYPE_ETHERNET } from '../../protocol/pcap.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
} from '../../protocol/pcapng.js';
import type { StoredPacket } from '../store/packets.js';

export type PcapFormat = 'pcap' | 'pcapng';

export interface FileStreamCounters {
  packets: number;
  bytes: number;
}

/** One pcapng packet comment: the packet's routing metadata as JSON, newline-terminated for scapy 2.5. */
export function packetComment(packet: StoredPacket): string {
  const { record } = packet;
  return `${JSON.stringify({
    packet_id: record.packet_id,
    instance_id: record.instance_id,
    nonce: record.lisp_header.nonce,
    ...record.metadata,
  })}\n`;
}

/**
 * Turns a packet stream into a capture file stream without holding more than
 * one packet: pcap (LINKTYPE_ETHERNET, microseconds) or pcapng (SHB, IDB, EPBs
 * with comments). `counters` is filled in as bytes flow.
 */
export function captureFileStream(
  packets: AsyncIterable<StoredPacket>,
  format: PcapFormat,
  counters: FileStreamCounters,
): Readable {
  async function* records(): AsyncGenerator<Uint8Array> {
    if (format === 'pcap') {
      yield encodePcapHeader({ linktype: LINKTYPE_ETHERNET, snaplen: 65535, precision: 'micro' });
    } else {
      yield encodeSectionHeader({ userAppl: 'wirefleet', comment: 'LISP routing decisions' });
      yield encodeInterfaceDescription({
        linktype: LINKTYPE_ETHERNET,
        snaplen: 65535,
        name: 'wirefleet-itr',
        tsresolNanos: false,
      });
    }
    for await (const packet of packets) {
      const timestampNs = BigInt(packet.timestampUs) * 1000n;
      counters.packets++;
      yield format === 'pcap'
        ? encodePcapRecord({ timestampNs, data: packet.frame }, 'micro')
        : encodeEnhancedPacket(
            { timestampNs, data: packet.frame, comments: [packetComment(packet)] },
            { tsresolNanos: false },
          );
    }
  }
  return Readable.from(coalesce(records(), counters), { objectMode: false });
}

const CHUNK_BYTES = 64 * 1024;

/** Packs small records into ~64 KiB chunks: one write per record is what makes writers slow. */
async function* coalesce(
  parts: AsyncIterable<Uint8Array>,
  counters: FileStreamCounters,
): AsyncGenerator<Uint8Array> {
  let chunk = new Uint8Array(CHUNK_BYTES);
  let used = 0;
  for await (const part of parts) {
    counters.bytes += part.length;
    if (used + part.length > CHUNK_BYTES && used > 0) {
      yield chunk.subarray(0, used);
      chunk = new Uint8Array(CHUNK_BYTES);
      used = 0;
    }
    if (part.length >= CHUNK_BYTES) {
      yield part;
      continue;
    }
    chunk.set(part, used);
    used += part.length;
  }
  if (used > 0) yield chunk.subarray(0, used);
}
