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
  async function* generate(): AsyncGenerator<Uint8Array> {
    const emit = (chunk: Uint8Array) => {
      counters.bytes += chunk.length;
      return chunk;
    };
    if (format === 'pcap') {
      yield emit(
        encodePcapHeader({ linktype: LINKTYPE_ETHERNET, snaplen: 65535, precision: 'micro' }),
      );
    } else {
      yield emit(encodeSectionHeader({ userAppl: 'wirefleet', comment: 'LISP routing decisions' }));
      yield emit(
        encodeInterfaceDescription({
          linktype: LINKTYPE_ETHERNET,
          snaplen: 65535,
          name: 'wirefleet-itr',
          tsresolNanos: false,
        }),
      );
    }
    for await (const packet of packets) {
      const timestampNs = BigInt(packet.timestampUs) * 1000n;
      counters.packets++;
      yield emit(
        format === 'pcap'
          ? encodePcapRecord({ timestampNs, data: packet.frame }, 'micro')
          : encodeEnhancedPacket(
              { timestampNs, data: packet.frame, comments: [packetComment(packet)] },
              { tsresolNanos: false },
            ),
      );
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
