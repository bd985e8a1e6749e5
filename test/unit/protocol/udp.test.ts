import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import { decodeUdp, encodeUdp, udpChecksumValid } from '../../../protocol/udp.js';
import { checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const v4 = { src: '192.0.2.1', dst: '198.51.100.2' };
const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const ports = { srcPort: 49152, dstPort: 4341 };
const hi = new TextEncoder().encode('hi');

describe('udp', () => {
  it('computes the IPv4 checksum worked by hand', () => {
    // Words: c000 0201 c633 6402 | 0011 000a | c000 10f5 000a 0000 6869
    // sum 0x325b9 -> fold 0x25bc -> complement 0xda43
    const d = encodeUdp(ports, hi, { checksum: 'compute', pseudo: v4 });
    expect(toHex(d)).toBe('c0 00 10 f5 00 0a da 43 68 69');
    expect(udpChecksumValid(d, v4)).toBe(true);
  });

  it('computes the IPv6 checksum worked by hand', () => {
    // Words: 2001 0db8 0*5 0001 2001 0db8 0*5 0002 | 0000 000a 0000 0011 | c000 10f5 000a 0000 6869
    // sum 0x194f8 -> fold 0x94f9 -> complement 0x6b06
    const d = encodeUdp(ports, hi, { checksum: 'compute', pseudo: v6 });
    expect(toHex(d.subarray(6, 8))).toBe('6b 06');
    expect(udpChecksumValid(d, v6)).toBe(true);
    expect(udpChecksumValid(d, { src: v6.dst, dst: '2001:db8::3' })).toBe(false);
  });

  it('sends a computed zero as 0xffff', () => {
    // With a zero payload word the checksum c is ~S; a payload word equal to c makes the
    // one's-complement sum S + ~S = 0xffff, whose complement is 0.
    const probe = encodeUdp(ports, new Uint8Array(2), { checksum: 'compute', pseudo: v4 });
    const word = (probe[6]! << 8) | probe[7]!;
    const d = encodeUdp(ports, Uint8Array.of(word >> 8, word & 0xff), {
      checksum: 'compute',
      pseudo: v4,
    });
    expect(d[6]).toBe(0xff);
    expect(d[7]).toBe(0xff);
    expect(udpChecksumValid(d, v4)).toBe(true);
  });

  it('writes zero on request, valid over IPv4 only', () => {
    const d = encodeUdp(ports, hi, { checksum: 'zero' });
    expect(d[6]).toBe(0);
    expect(d[7]).toBe(0);
    expect(udpChecksumValid(d, v4)).toBe(true);
    expect(udpChecksumValid(d, v6)).toBe(false);
    expect(encodeUdp(ports, hi, { checksum: 'zero', pseudo: v4 })[6]).toBe(0);
    expect(() => encodeUdp(ports, hi, { checksum: 'zero', pseudo: v6 })).toThrow(EncodeError);
  });

  it('detects a corrupted datagram', () => {
    const d = encodeUdp(ports, hi, { checksum: 'compute', pseudo: v4 });
    d[9] = d[9]! ^ 1;
    expect(udpChecksumValid(d, v4)).toBe(false);
  });

  it('decodes and sizes the payload by the length field', () => {
    const d = concat(encodeUdp(ports, hi, { checksum: 'zero' }), Uint8Array.of(0, 0, 0));
    const { header, headerLength, payload } = decodeUdp(d);
    expect(header).toEqual({ srcPort: 49152, dstPort: 4341, length: 10, checksum: 0 });
    expect(headerLength).toBe(8);
    expect(new TextDecoder().decode(payload)).toBe('hi');
    expect(udpChecksumValid(encodeUdp(ports, hi, { checksum: 'compute', pseudo: v4 }), v4)).toBe(
      true,
    );
  });

  it('rejects bad length fields', () => {
    const d = encodeUdp(ports, hi, { checksum: 'zero' });
    const short = d.slice();
    short[5] = 7;
    expectDecodeError(() => decodeUdp(short), 'invalid');
    expectDecodeError(() => decodeUdp(d.subarray(0, 9)), 'truncated');
    expectDecodeError(() => decodeUdp(d.subarray(0, 7)), 'truncated');
    expectDecodeError(() => udpChecksumValid(d.subarray(0, 9), v4), 'truncated');
  });

  it('rejects bad encoder input', () => {
    expect(() => encodeUdp({ srcPort: 65536, dstPort: 1 }, hi, { checksum: 'zero' })).toThrow(
      EncodeError,
    );
    expect(() => encodeUdp({ srcPort: 1, dstPort: -1 }, hi, { checksum: 'zero' })).toThrow(
      EncodeError,
    );
    expect(() => encodeUdp(ports, new Uint8Array(65528), { checksum: 'zero' })).toThrow(
      EncodeError,
    );
    const mixed = { src: '192.0.2.1', dst: '2001:db8::1' };
    expect(() => encodeUdp(ports, hi, { checksum: 'compute', pseudo: mixed })).toThrow(EncodeError);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const d = encodeUdp(ports, hi, { checksum: 'compute', pseudo: v4 });
    expect(checkTruncations(d, decodeUdp)).toBe(10);
    expect(fuzz(4, d, decodeUdp).ok).toBeGreaterThan(0);
    fuzz(5, d, (b) => udpChecksumValid(b, v6), 1000);
  });
});
