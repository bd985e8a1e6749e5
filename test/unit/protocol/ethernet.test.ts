import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import {
  decodeEthernet,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  encodeEthernet,
} from '../../../protocol/ethernet.js';
import { checkTruncations, expectDecodeError, fuzz, toHex } from './helpers.js';

const dst = '02:00:00:00:00:02';
const src = '02:00:00:00:00:01';
const payload = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);

describe('ethernet', () => {
  it('encodes the untagged wire layout', () => {
    const frame = encodeEthernet({ dst, src, etherType: ETHERTYPE_IPV4 }, payload);
    expect(toHex(frame)).toBe('02 00 00 00 00 02 02 00 00 00 00 01 08 00 de ad be ef');
    const d = decodeEthernet(frame);
    expect(d.header).toEqual({ dst, src, vlans: [], etherType: ETHERTYPE_IPV4 });
    expect(d.headerLength).toBe(14);
    expect(Array.from(d.payload)).toEqual(Array.from(payload));
  });

  it('round-trips an 802.1Q tag', () => {
    const frame = encodeEthernet(
      { dst, src, vlans: [{ vid: 100, pcp: 5, dei: true }], etherType: ETHERTYPE_IPV6 },
      payload,
    );
    expect(toHex(frame.subarray(12, 18))).toBe('81 00 b0 64 86 dd');
    const d = decodeEthernet(frame);
    expect(d.header.vlans).toEqual([{ tpid: ETHERTYPE_VLAN, pcp: 5, dei: true, vid: 100 }]);
    expect(d.header.etherType).toBe(ETHERTYPE_IPV6);
    expect(d.headerLength).toBe(18);
    expect(d.payload.length).toBe(4);
  });

  it('stacks QinQ tags with an S-tag outside by default', () => {
    const frame = encodeEthernet(
      { dst, src, vlans: [{ vid: 10 }, { vid: 20 }], etherType: ETHERTYPE_IPV4 },
      payload,
    );
    const d = decodeEthernet(frame);
    expect(d.header.vlans.map((t) => [t.tpid, t.vid])).toEqual([
      [ETHERTYPE_QINQ, 10],
      [ETHERTYPE_VLAN, 20],
    ]);
    expect(d.headerLength).toBe(22);
    // Old-style 0x8100/0x8100 stacking decodes too.
    const old = encodeEthernet(
      { dst, src, vlans: [{ vid: 1, tpid: ETHERTYPE_VLAN }, { vid: 2 }], etherType: 0x0806 },
      new Uint8Array(0),
    );
    expect(decodeEthernet(old).header.vlans.map((t) => t.vid)).toEqual([1, 2]);
    expect(decodeEthernet(old).header.etherType).toBe(0x0806);
  });

  it('rejects invalid encoder input', () => {
    const base = { dst, src, etherType: ETHERTYPE_IPV4 };
    expect(() => encodeEthernet({ ...base, dst: 'nope' }, payload)).toThrow(EncodeError);
    expect(() => encodeEthernet({ ...base, etherType: 0x10000 }, payload)).toThrow(EncodeError);
    expect(() => encodeEthernet({ ...base, vlans: [{ vid: 4096 }] }, payload)).toThrow(EncodeError);
    expect(() => encodeEthernet({ ...base, vlans: [{ vid: 1, pcp: 8 }] }, payload)).toThrow(
      EncodeError,
    );
    expect(() => encodeEthernet({ ...base, vlans: [{ vid: 1, tpid: 0x1234 }] }, payload)).toThrow(
      EncodeError,
    );
  });

  it('rejects frames cut inside the header or a tag', () => {
    expectDecodeError(() => decodeEthernet(new Uint8Array(13)), 'truncated');
    const tagged = encodeEthernet(
      { dst, src, vlans: [{ vid: 1 }], etherType: 1 },
      new Uint8Array(0),
    );
    expectDecodeError(() => decodeEthernet(tagged.subarray(0, 17)), 'truncated');
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const frame = encodeEthernet(
      { dst, src, vlans: [{ vid: 10 }, { vid: 20 }], etherType: ETHERTYPE_IPV4 },
      payload,
    );
    expect(checkTruncations(frame, decodeEthernet)).toBe(22);
    const outcomes = fuzz(1, frame, decodeEthernet);
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes['decode-error']).toBeGreaterThan(0);
  });
});
