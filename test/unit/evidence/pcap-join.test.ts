import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../protocol/evidence/format.js';
import { PcapJoiner } from '../../../protocol/evidence/pcap-join.js';
import {
  encodePcapHeader,
  encodePcapRecord,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  readPcap,
} from '../../../protocol/pcap.js';

function pcap(
  packets: number,
  o: { linktype?: number; snaplen?: number; precision?: 'micro' | 'nano'; first?: number } = {},
): Buffer {
  const precision = o.precision ?? 'micro';
  const parts = [encodePcapHeader({ ...o, precision })];
  for (let i = 0; i < packets; i++) {
    const n = (o.first ?? 0) + i;
    parts.push(
      encodePcapRecord(
        { timestampNs: BigInt(n) * 1_000_000n, data: new Uint8Array(20 + (n % 7)).fill(n) },
        precision,
      ),
    );
  }
  return Buffer.concat(parts);
}

/** Runs segments through a joiner in pieces of `piece` bytes; the output with any patch applied. */
function join(segments: Uint8Array[], piece = 5): Buffer {
  const j = new PcapJoiner();
  const out: Uint8Array[] = [];
  segments.forEach((s, i) => {
    j.begin(i + 1);
    for (let at = 0; at < s.length; at += piece) out.push(...j.push(s.subarray(at, at + piece)));
    j.end();
  });
  const joined = Buffer.concat(out);
  const patch = j.patch();
  if (patch) joined.set(patch.bytes, patch.offset);
  return joined;
}

const refusal = (segments: Uint8Array[]) => {
  try {
    join(segments);
  } catch (error) {
    expect(error).toBeInstanceOf(EvidenceError);
    expect((error as EvidenceError).reason).toBe('pcap-join');
    return (error as EvidenceError).message;
  }
  throw new Error('joined what it should have refused');
};

describe('PcapJoiner', () => {
  it('passes one segment through byte for byte, pcap or not', () => {
    const data = Buffer.from('not a pcap, just bytes');
    expect(join([data]).equals(data)).toBe(true);
    expect(join([Buffer.alloc(0)]).length).toBe(0);
    const one = pcap(3, { snaplen: 100 });
    expect(join([one]).equals(one)).toBe(true);
  });

  it('joins pcaps into one: the first header, then every record in segment order', () => {
    const a = pcap(3, { first: 0 });
    const b = pcap(4, { first: 3 });
    const c = pcap(0);
    const d = pcap(2, { first: 7 });
    for (const piece of [1, 7, 1000]) {
      const joined = join([a, b, c, d], piece);
      expect(joined.equals(Buffer.concat([a, b.subarray(24), d.subarray(24)]))).toBe(true);
      const times = [...readPcap(joined)].map((p) => Number(p.timestampNs / 1_000_000n));
      expect(times).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  it('raises the joined snaplen to the largest segment’s', () => {
    const joined = join([
      pcap(1, { snaplen: 128 }),
      pcap(1, { snaplen: 65535 }),
      pcap(1, { snaplen: 256 }),
    ]);
    expect(joined.readUInt32LE(16)).toBe(65535);
    expect([...readPcap(joined)]).toHaveLength(3);
  });

  it('refuses segments that cannot share one pcap', () => {
    expect(refusal([pcap(1), pcap(1, { linktype: LINKTYPE_RAW })])).toMatch(
      `segment 2 has link type ${LINKTYPE_RAW}, segment 1 has ${LINKTYPE_ETHERNET}`,
    );
    expect(refusal([pcap(1), pcap(1, { precision: 'nano' })])).toMatch(/nanosecond/);
    expect(refusal([pcap(1), Buffer.from('segment two is something else entirely')])).toMatch(
      'segment 2 is not a classic pcap',
    );
    expect(refusal([Buffer.from('segment one is not a pcap at all, no'), pcap(1)])).toMatch(
      'segment 1 is not a classic pcap',
    );
    expect(refusal([pcap(1), pcap(0).subarray(0, 10)])).toMatch('segment 2 is not a classic pcap');
    const cut = pcap(2);
    expect(refusal([cut.subarray(0, cut.length - 3), pcap(1)])).toMatch(
      "segment 1's pcap ends inside a record",
    );
    expect(refusal([pcap(1), cut.subarray(0, cut.length - 3)])).toMatch(
      "segment 2's pcap ends inside a record",
    );
    const bigEndian = pcap(1);
    bigEndian.writeUInt32BE(0xa1b2c3d4, 0); // same fields, other byte order
    expect(refusal([pcap(1), bigEndian])).toMatch(/big-endian/);
  });
});
