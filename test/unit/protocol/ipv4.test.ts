import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import { decodeIPv4, encodeIPv4, IPPROTO_UDP } from '../../../protocol/ipv4.js';
import { bytesOf, checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const CLASSIC = '45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7';

describe('ipv4', () => {
  it('reproduces the classic header with checksum 0xb861', () => {
    const packet = encodeIPv4(
      { src: '192.168.0.1', dst: '192.168.0.199', protocol: IPPROTO_UDP },
      new Uint8Array(0x73 - 20),
    );
    expect(toHex(packet.subarray(0, 20))).toBe(CLASSIC);
  });

  it('decodes the classic header', () => {
    const packet = concat(bytesOf(CLASSIC), new Uint8Array(0x73 - 20));
    const { header, headerLength, payload } = decodeIPv4(packet);
    expect(headerLength).toBe(20);
    expect(payload.length).toBe(95);
    expect(header).toMatchObject({
      ihl: 5,
      dscp: 0,
      ecn: 0,
      totalLength: 0x73,
      identification: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      checksumValid: true,
      src: '192.168.0.1',
      dst: '192.168.0.199',
    });
    expect(header.options.length).toBe(0);
  });

  it('round-trips every field, options included', () => {
    const options = Uint8Array.of(0x94, 0x04, 0x00, 0x00); // router alert
    const payload = Uint8Array.of(1, 2, 3);
    const packet = encodeIPv4(
      {
        src: '10.0.0.1',
        dst: '10.255.0.2',
        protocol: 6,
        ttl: 1,
        dscp: 46,
        ecn: 3,
        identification: 0xbeef,
        dontFragment: false,
        moreFragments: true,
        fragmentOffset: 1480,
        options,
      },
      payload,
    );
    const d = decodeIPv4(packet);
    expect(d.headerLength).toBe(24);
    expect(d.header).toMatchObject({
      ihl: 6,
      dscp: 46,
      ecn: 3,
      totalLength: 27,
      identification: 0xbeef,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 1480,
      ttl: 1,
      protocol: 6,
      checksumValid: true,
    });
    expect(Array.from(d.header.options)).toEqual(Array.from(options));
    expect(Array.from(d.payload)).toEqual([1, 2, 3]);
  });

  it('ignores link-layer padding after totalLength', () => {
    const packet = encodeIPv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 }, Uint8Array.of(9));
    const padded = concat(packet, new Uint8Array(25));
    expect(Array.from(decodeIPv4(padded).payload)).toEqual([9]);
  });

  it('reports a bad checksum without throwing', () => {
    const packet = encodeIPv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 }, new Uint8Array(0));
    packet[8] = 63;
    expect(decodeIPv4(packet).header.checksumValid).toBe(false);
  });

  it('rejects wrong version, short ihl and inconsistent total length', () => {
    const good = encodeIPv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 }, new Uint8Array(8));
    const v6 = good.slice();
    v6[0] = 0x65;
    expectDecodeError(() => decodeIPv4(v6), 'invalid');
    const shortIhl = good.slice();
    shortIhl[0] = 0x44;
    expectDecodeError(() => decodeIPv4(shortIhl), 'invalid');
    const longIhl = good.slice();
    longIhl[0] = 0x4f; // 60-byte header in a 28-byte packet
    expectDecodeError(() => decodeIPv4(longIhl), 'truncated');
    const small = good.slice();
    small[3] = 19;
    expectDecodeError(() => decodeIPv4(small), 'invalid');
    expectDecodeError(() => decodeIPv4(good.subarray(0, 27)), 'truncated');
  });

  it('rejects out-of-range encoder fields', () => {
    const base = { src: '1.1.1.1', dst: '2.2.2.2', protocol: 17 };
    const none = new Uint8Array(0);
    for (const bad of [
      { ttl: 256 },
      { ttl: -1 },
      { dscp: 64 },
      { ecn: 4 },
      { protocol: 256 },
      { identification: 0x10000 },
      { fragmentOffset: 4 },
      { fragmentOffset: 8192 * 8 },
      { options: new Uint8Array(3) },
      { options: new Uint8Array(44) },
      { src: '1.1.1' },
      { dst: '::1' },
    ]) {
      expect(() => encodeIPv4({ ...base, ...bad }, none), JSON.stringify(bad)).toThrow(EncodeError);
    }
    expect(() => encodeIPv4(base, new Uint8Array(65516))).toThrow(EncodeError);
    expect(encodeIPv4(base, new Uint8Array(65515)).length).toBe(65535);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const packet = encodeIPv4(
      { src: '1.1.1.1', dst: '2.2.2.2', protocol: 17, options: new Uint8Array(8) },
      new Uint8Array(12),
    );
    checkTruncations(packet, decodeIPv4);
    const outcomes = fuzz(2, packet, decodeIPv4);
    expect(outcomes.ok).toBeGreaterThan(0);
  });
});
