import { describe, expect, it } from 'vitest';
import {
  captureFileStream,
  type FileStreamCounters,
  type PcapFormat,
  packetComment,
} from '../../../functions/pcap/file-stream.js';
import { packetFromDecision, type StoredPacket } from '../../../functions/store/packets.js';
import { decodePcapHeader, LINKTYPE_ETHERNET, readPcap } from '../../../protocol/pcap.js';
import { readPcapng } from '../../../protocol/pcapng.js';
import { route } from '../routing/helpers.js';

const QUERIES = [
  'Write a Python function to calculate factorial',
  'What is DNS?',
  'Summarise the confidential patient record',
];
const BASE_US = 1_700_000_000_000_001;

function storedPackets(): StoredPacket[] {
  return QUERIES.map((query, i) => {
    const id = `0000018f0000000${i}`;
    const timestampUs = BASE_US + i * 1_234_567;
    const { decision, frame } = route(query, { ctx: { packetId: id, timestampUs } });
    return packetFromDecision(id, timestampUs, decision, frame);
  });
}

async function* slowly<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield item;
  }
}

async function render(packets: StoredPacket[], format: PcapFormat) {
  const counters: FileStreamCounters = { packets: 0, bytes: 0 };
  const chunks: Uint8Array[] = [];
  for await (const chunk of captureFileStream(slowly(packets), format, counters))
    chunks.push(chunk);
  return { bytes: new Uint8Array(Buffer.concat(chunks)), counters };
}

describe('captureFileStream', () => {
  const packets = storedPackets();

  it('writes a pcap that readPcap reads back with identical frames and µs timestamps', async () => {
    const { bytes, counters } = await render(packets, 'pcap');
    expect(decodePcapHeader(bytes)).toMatchObject({
      byteOrder: 'little',
      precision: 'micro',
      linktype: LINKTYPE_ETHERNET,
      snaplen: 65535,
      versionMajor: 2,
      versionMinor: 4,
    });
    const read = [...readPcap(bytes)];
    expect(read).toHaveLength(3);
    read.forEach((p, i) => {
      expect(Buffer.from(p.data).equals(Buffer.from(packets[i]!.frame))).toBe(true);
      expect(p.originalLength).toBe(packets[i]!.frame.length);
      expect(p.timestampNs).toBe(BigInt(packets[i]!.timestampUs) * 1000n);
    });
    expect(counters).toEqual({ packets: 3, bytes: bytes.length });
    expect(bytes.length).toBe(24 + packets.reduce((n, p) => n + 16 + p.frame.length, 0));
  });

  it('writes a pcapng whose EPB comments are newline-terminated JSON with the packet id', async () => {
    const { bytes, counters } = await render(packets, 'pcapng');
    const blocks = [...readPcapng(bytes)];
    expect(blocks.map((b) => b.type)).toEqual(['shb', 'idb', 'epb', 'epb', 'epb']);
    const idb = blocks[1]!;
    expect(idb.type === 'idb' && idb.linktype).toBe(LINKTYPE_ETHERNET);
    expect(idb.type === 'idb' && idb.tsresol).toEqual({ base: 10, exponent: 6 });
    const epbs = blocks.filter((b) => b.type === 'epb');
    epbs.forEach((epb, i) => {
      const packet = packets[i]!;
      expect(Buffer.from(epb.data).equals(Buffer.from(packet.frame))).toBe(true);
      expect(epb.timestampNs).toBe(BigInt(packet.timestampUs) * 1000n);
      expect(epb.comments).toHaveLength(1);
      const comment = epb.comments[0]!;
      expect(comment.endsWith('\n')).toBe(true);
      expect(comment).toBe(packetComment(packet));
      const parsed = JSON.parse(comment) as Record<string, unknown>;
      expect(parsed).toMatchObject({
        packet_id: packet.id,
        instance_id: packet.record.instance_id,
        nonce: packet.record.lisp_header.nonce,
        model_name: packet.model,
        workload_type: packet.workloadType,
      });
    });
    expect(counters).toEqual({ packets: 3, bytes: bytes.length });
  });

  it.each(['pcap', 'pcapng'] as const)(
    'writes only the header(s) for an empty %s stream',
    async (format) => {
      const { bytes, counters } = await render([], format);
      expect(counters).toEqual({ packets: 0, bytes: bytes.length });
      if (format === 'pcap') {
        expect(bytes.length).toBe(24);
        expect([...readPcap(bytes)]).toEqual([]);
      } else {
        expect([...readPcapng(bytes)].map((b) => b.type)).toEqual(['shb', 'idb']);
      }
    },
  );

  it('pulls packets lazily: nothing is read before the stream is consumed', async () => {
    let pulled = 0;
    async function* counting() {
      for (const p of packets) {
        pulled++;
        yield p;
      }
    }
    const counters: FileStreamCounters = { packets: 0, bytes: 0 };
    const stream = captureFileStream(counting(), 'pcap', counters);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(pulled).toBeLessThan(packets.length);
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(pulled).toBe(3);
    expect(counters.packets).toBe(3);
  });
});
