import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
  type PcapngBlock,
  readPcapng,
} from '../../../protocol/pcapng.js';
import { checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const T = 1_700_000_000_123_456_789n;

// Independent hand-rolled writer, so byte order and tsresol variants are not tested against
// our own encoder only.
const u16 = (n: number, le: boolean) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, le);
  return b;
};
const u32 = (n: number, le: boolean) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, le);
  return b;
};
const pad = (b: Uint8Array) => concat(b, new Uint8Array((4 - (b.length % 4)) % 4));
const opt = (code: number, value: Uint8Array, le: boolean) =>
  concat(u16(code, le), u16(value.length, le), pad(value));
const blk = (type: number, body: Uint8Array, le: boolean) =>
  concat(u32(type, le), u32(body.length + 12, le), body, u32(body.length + 12, le));
const shb = (le: boolean) =>
  blk(
    0x0a0d0d0a,
    concat(u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), new Uint8Array(8).fill(0xff)),
    le,
  );
const idb = (linktype: number, tsresol: number, le: boolean) =>
  blk(
    1,
    concat(
      u16(linktype, le),
      u16(0, le),
      u32(0, le),
      opt(9, Uint8Array.of(tsresol), le),
      opt(0, new Uint8Array(0), le),
    ),
    le,
  );
const epb = (iface: number, units: bigint, data: Uint8Array, le: boolean) =>
  blk(
    6,
    concat(
      u32(iface, le),
      u32(Number(units >> 32n), le),
      u32(Number(units & 0xffffffffn), le),
      u32(data.length, le),
      u32(data.length, le),
      pad(data),
    ),
    le,
  );

function sampleFile(): Uint8Array {
  return concat(
    encodeSectionHeader({
      userAppl: 'wirefleet',
      os: 'linux',
      hardware: 'x86_64',
      comment: 'run 1',
    }),
    encodeInterfaceDescription({ linktype: 1, name: 'eth0', tsresolNanos: true }),
    encodeInterfaceDescription({ linktype: 101, snaplen: 65535 }),
    encodeEnhancedPacket(
      { timestampNs: T, data: Uint8Array.of(1, 2, 3), comments: ['{"a":1}\n', 'héllo ✓'] },
      { tsresolNanos: true },
    ),
    encodeEnhancedPacket(
      { interfaceId: 1, timestampNs: T, data: Uint8Array.of(4), originalLength: 1500 },
      { tsresolNanos: false },
    ),
  );
}

const only = <K extends PcapngBlock['type']>(blocks: PcapngBlock[], type: K) =>
  blocks.filter((b): b is Extract<PcapngBlock, { type: K }> => b.type === type);

describe('pcapng', () => {
  it('writes a section header with section length -1', () => {
    const b = encodeSectionHeader();
    expect(toHex(b)).toBe(
      '0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff 1c 00 00 00',
    );
  });

  it('writes if_tsresol explicitly for microseconds and nanoseconds', () => {
    expect(toHex(encodeInterfaceDescription({ linktype: 1 }))).toBe(
      '01 00 00 00 20 00 00 00 01 00 00 00 00 00 04 00 09 00 01 00 06 00 00 00 00 00 00 00 20 00 00 00',
    );
    expect(encodeInterfaceDescription({ linktype: 1, tsresolNanos: true })[20]).toBe(9);
  });

  it('round-trips SHB, two IDBs with different tsresol and EPBs with comments', () => {
    const blocks = [...readPcapng(sampleFile())];
    expect(blocks.map((b) => b.type)).toEqual(['shb', 'idb', 'idb', 'epb', 'epb']);
    const [s] = only(blocks, 'shb');
    expect(s).toMatchObject({ byteOrder: 'little', versionMajor: 1, versionMinor: 0 });
    const text = (code: number) =>
      new TextDecoder().decode(s?.options.find((o) => o.code === code)?.value);
    expect([text(1), text(2), text(3), text(4)]).toEqual(['run 1', 'x86_64', 'linux', 'wirefleet']);
    const [i0, i1] = only(blocks, 'idb');
    expect(i0).toMatchObject({ linktype: 1, snaplen: 262144, tsresol: { base: 10, exponent: 9 } });
    expect(new TextDecoder().decode(i0?.options.find((o) => o.code === 2)?.value)).toBe('eth0');
    expect(i1).toMatchObject({ linktype: 101, snaplen: 65535, tsresol: { base: 10, exponent: 6 } });
    const [p0, p1] = only(blocks, 'epb');
    expect(p0).toMatchObject({
      interfaceId: 0,
      timestampNs: T,
      originalLength: 3,
      comments: ['{"a":1}\n', 'héllo ✓'],
    });
    expect(Array.from(p0?.data ?? [])).toEqual([1, 2, 3]);
    expect(p0?.options.map((o) => o.code)).toEqual([1, 1]);
    expect(p1).toMatchObject({
      interfaceId: 1,
      timestampNs: T - 789n,
      originalLength: 1500,
      comments: [],
      options: [],
    });
  });

  it('reads big-endian sections, base-2 resolution and a byte-order switch', () => {
    const bytes = concat(
      shb(false),
      idb(1, 0x80 | 10, false), // 2^-10 s units
      epb(0, 3072n, Uint8Array.of(7, 7), false),
      shb(true),
      idb(1, 3, true), // milliseconds
      epb(0, 1500n, Uint8Array.of(8), true),
    );
    const blocks = [...readPcapng(bytes)];
    expect(only(blocks, 'shb').map((b) => b.byteOrder)).toEqual(['big', 'little']);
    expect(only(blocks, 'idb').map((b) => b.tsresol)).toEqual([
      { base: 2, exponent: 10 },
      { base: 10, exponent: 3 },
    ]);
    expect(only(blocks, 'epb').map((b) => b.timestampNs)).toEqual([3_000_000_000n, 1_500_000_000n]);
    // A new section forgets the old interfaces.
    expectDecodeError(
      () => [
        ...readPcapng(
          concat(shb(true), idb(1, 6, true), shb(true), epb(0, 0n, new Uint8Array(0), true)),
        ),
      ],
      'invalid',
    );
  });

  it('reads simple, obsolete and unknown blocks', () => {
    const le = true;
    const spb = blk(3, concat(u32(6, le), pad(Uint8Array.of(1, 2, 3, 4, 5, 6))), le);
    const pb = blk(
      2,
      concat(
        u16(0, le),
        u16(0, le),
        u32(0, le),
        u32(1_000_000, le),
        u32(1, le),
        u32(1, le),
        pad(Uint8Array.of(9)),
      ),
      le,
    );
    const nrb = blk(4, new Uint8Array(4), le);
    const blocks = [...readPcapng(concat(shb(le), idb(1, 6, le), spb, pb, nrb))];
    expect(blocks.slice(2)).toMatchObject([
      { type: 'spb', originalLength: 6 },
      { type: 'epb', interfaceId: 0, timestampNs: 1_000_000_000n, originalLength: 1 },
      { type: 'other', blockType: 4, length: 16 },
    ]);
  });

  it('rejects inconsistent block framing', () => {
    const good = sampleFile();
    const idbAt = encodeSectionHeader({
      userAppl: 'wirefleet',
      os: 'linux',
      hardware: 'x86_64',
      comment: 'run 1',
    }).length;
    const withLength = (n: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(idbAt + 4, n, true);
      return b;
    };
    expectDecodeError(() => [...readPcapng(withLength(10))], 'invalid');
    expectDecodeError(() => [...readPcapng(withLength(34))], 'invalid');
    expectDecodeError(() => [...readPcapng(withLength(28))], 'invalid'); // trailer mismatch
    expectDecodeError(() => [...readPcapng(withLength(0x7ffffffc))], 'truncated');
    expectDecodeError(() => [...readPcapng(good.subarray(idbAt))], 'invalid'); // no SHB first
    expectDecodeError(() => [...readPcapng(new Uint8Array(0))], 'truncated');
    const badMagic = good.slice();
    badMagic[8] = 0;
    expectDecodeError(() => [...readPcapng(badMagic)], 'invalid');
    const v2 = good.slice();
    v2[12] = 2;
    expectDecodeError(() => [...readPcapng(v2)], 'unsupported');
  });

  it('rejects options, packets and interfaces that overrun their block', () => {
    const le = true;
    const longOpt = blk(
      1,
      concat(u16(1, le), u16(0, le), u32(0, le), u16(2, le), u16(8, le), u32(0, le)),
      le,
    );
    expectDecodeError(() => [...readPcapng(concat(shb(le), longOpt))], 'invalid');
    const capTooBig = blk(
      6,
      concat(u32(0, le), u32(0, le), u32(0, le), u32(9, le), u32(9, le), new Uint8Array(8)),
      le,
    );
    expectDecodeError(() => [...readPcapng(concat(shb(le), idb(1, 6, le), capTooBig))], 'invalid');
    expectDecodeError(
      () => [...readPcapng(concat(shb(le), epb(0, 0n, new Uint8Array(0), le)))],
      'invalid',
    );
    expectDecodeError(
      () => [...readPcapng(concat(shb(le), idb(1, 6, le), epb(1, 0n, new Uint8Array(0), le)))],
      'invalid',
    );
  });

  it('rejects bad encoder input', () => {
    const data = new Uint8Array(4);
    expect(() => encodeInterfaceDescription({ linktype: 0x10000 })).toThrow(EncodeError);
    expect(() => encodeEnhancedPacket({ timestampNs: -1n, data }, { tsresolNanos: true })).toThrow(
      EncodeError,
    );
    expect(() =>
      encodeEnhancedPacket({ timestampNs: 2n ** 64n, data }, { tsresolNanos: true }),
    ).toThrow(EncodeError);
    expect(() =>
      encodeEnhancedPacket({ timestampNs: 0n, data, originalLength: 1 }, { tsresolNanos: true }),
    ).toThrow(EncodeError);
    expect(() =>
      encodeEnhancedPacket(
        { timestampNs: 0n, data, comments: ['x'.repeat(70000)] },
        { tsresolNanos: true },
      ),
    ).toThrow(EncodeError);
    expect(() => encodeSectionHeader({ comment: 'y'.repeat(65536) })).toThrow(EncodeError);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const f = sampleFile();
    const drain = (b: Uint8Array) => [...readPcapng(b)];
    checkTruncations(f, drain);
    expect(fuzz(9, f, drain).ok).toBeGreaterThan(0);
    const be = concat(
      shb(false),
      idb(1, 0x85, false),
      epb(0, 5n, Uint8Array.of(1, 2, 3, 4, 5), false),
    );
    checkTruncations(be, drain);
    fuzz(10, be, drain);
  });
});
