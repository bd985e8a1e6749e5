import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import {
  decodePcapHeader,
  encodePcapHeader,
  encodePcapRecord,
  LINKTYPE_RAW,
  readPcap,
} from '../../../protocol/pcap.js';
import { bytesOf, checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const T = 1_700_000_000_123_456_789n;

function file(precision: 'micro' | 'nano') {
  return concat(
    encodePcapHeader({ precision }),
    encodePcapRecord({ timestampNs: T, data: Uint8Array.of(1, 2, 3) }, precision),
    encodePcapRecord({ timestampNs: 0n, data: new Uint8Array(0), originalLength: 60 }, precision),
  );
}

describe('pcap', () => {
  it('writes the little-endian microsecond header', () => {
    expect(toHex(encodePcapHeader())).toBe(
      'd4 c3 b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 00 00 04 00 01 00 00 00',
    );
    expect(decodePcapHeader(encodePcapHeader())).toEqual({
      byteOrder: 'little',
      precision: 'micro',
      versionMajor: 2,
      versionMinor: 4,
      snaplen: 262144,
      linktype: 1,
    });
  });

  it('writes the nanosecond magic and options', () => {
    const h = encodePcapHeader({ precision: 'nano', linktype: LINKTYPE_RAW, snaplen: 65535 });
    expect(toHex(h)).toBe(
      '4d 3c b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 ff ff 00 00 65 00 00 00',
    );
    expect(decodePcapHeader(h)).toMatchObject({ precision: 'nano', linktype: 101, snaplen: 65535 });
  });

  it('decodes a hand-built big-endian file', () => {
    const bytes = bytesOf(`
      a1 b2 c3 d4 00 02 00 04 00 00 00 00 00 00 00 00 00 00 ff ff 00 00 00 65
      65 53 f1 00 00 01 e2 40 00 00 00 02 00 00 00 05 ab cd`);
    expect(decodePcapHeader(bytes)).toEqual({
      byteOrder: 'big',
      precision: 'micro',
      versionMajor: 2,
      versionMinor: 4,
      snaplen: 65535,
      linktype: 101,
    });
    const [p, ...rest] = [...readPcap(bytes)];
    expect(rest).toEqual([]);
    expect(p?.timestampNs).toBe(0x6553f100n * 1_000_000_000n + 123_456_000n);
    expect(Array.from(p?.data ?? [])).toEqual([0xab, 0xcd]);
    expect(p?.originalLength).toBe(5);
    const nano = bytes.slice();
    nano.set([0xa1, 0xb2, 0x3c, 0x4d]);
    expect(decodePcapHeader(nano).precision).toBe('nano');
    expect([...readPcap(nano)][0]?.timestampNs).toBe(0x6553f100n * 1_000_000_000n + 123_456n);
  });

  it('round-trips records at both precisions', () => {
    const micro = [...readPcap(file('micro'))];
    expect(micro.map((p) => p.timestampNs)).toEqual([T - 789n, 0n]);
    expect(micro.map((p) => p.originalLength)).toEqual([3, 60]);
    expect(Array.from(micro[0]?.data ?? [])).toEqual([1, 2, 3]);
    const nano = [...readPcap(file('nano'))];
    expect(nano.map((p) => p.timestampNs)).toEqual([T, 0n]);
    expect(toHex(encodePcapRecord({ timestampNs: T, data: new Uint8Array(0) }, 'nano'))).toBe(
      '00 f1 53 65 15 cd 5b 07 00 00 00 00 00 00 00 00',
    );
  });

  it('reports the FCS length announced in the link-type word', () => {
    const h = encodePcapHeader();
    h[23] = 0x24; // P bit (0x04000000) + FCS length 2 words (0x20000000)
    expect(decodePcapHeader(h)).toMatchObject({ linktype: 1, fcsLength: 4 });
  });

  it('rejects unknown and unsupported magics', () => {
    const h = encodePcapHeader();
    h.set([0x0a, 0x0d, 0x0d, 0x0a]);
    expectDecodeError(() => decodePcapHeader(h), 'unsupported');
    h.set([0xa1, 0xb2, 0xcd, 0x34]);
    expectDecodeError(() => decodePcapHeader(h), 'unsupported');
    h.set([0, 0, 0, 0]);
    expectDecodeError(() => decodePcapHeader(h), 'invalid');
    expectDecodeError(() => decodePcapHeader(new Uint8Array(23)), 'truncated');
  });

  it('rejects truncated and implausible records', () => {
    const f = file('micro');
    expectDecodeError(() => [...readPcap(f.subarray(0, f.length - 1))], 'truncated');
    expectDecodeError(() => [...readPcap(f.subarray(0, 24 + 10))], 'truncated');
    const huge = f.slice();
    new DataView(huge.buffer).setUint32(24 + 8, 262144 * 4 + 1, true);
    expectDecodeError(() => [...readPcap(huge)], 'invalid');
  });

  it('rejects bad encoder input', () => {
    expect(() => encodePcapHeader({ linktype: 0x10000 })).toThrow(EncodeError);
    expect(() => encodePcapHeader({ snaplen: -1 })).toThrow(EncodeError);
    const data = new Uint8Array(4);
    expect(() => encodePcapRecord({ timestampNs: -1n, data }, 'micro')).toThrow(EncodeError);
    expect(() =>
      encodePcapRecord({ timestampNs: 2n ** 32n * 1_000_000_000n, data }, 'nano'),
    ).toThrow(EncodeError);
    expect(() => encodePcapRecord({ timestampNs: 0n, data, originalLength: 3 }, 'micro')).toThrow(
      EncodeError,
    );
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const f = file('nano');
    const drain = (b: Uint8Array) => [...readPcap(b)];
    checkTruncations(f, drain);
    expect(fuzz(8, f, drain).ok).toBeGreaterThan(0);
  });
});
