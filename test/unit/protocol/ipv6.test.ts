import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import { IPPROTO_UDP } from '../../../protocol/ip-protocols.js';
import { decodeIPv6, encodeIPv6 } from '../../../protocol/ipv6.js';
import { checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const base = { src: '2001:db8::1', dst: '2001:db8::2', nextHeader: IPPROTO_UDP };

describe('ipv6', () => {
  it('packs version, traffic class and flow label into the first word', () => {
    const packet = encodeIPv6(
      { ...base, dscp: 46, ecn: 1, flowLabel: 0x12345, hopLimit: 7 },
      Uint8Array.of(0xaa),
    );
    expect(toHex(packet.subarray(0, 8))).toBe('6b 91 23 45 00 01 11 07');
    const { header, headerLength, payload } = decodeIPv6(packet);
    expect(headerLength).toBe(40);
    expect(header).toEqual({
      trafficClass: 0xb9,
      dscp: 46,
      ecn: 1,
      flowLabel: 0x12345,
      payloadLength: 1,
      nextHeader: 17,
      hopLimit: 7,
      src: '2001:db8::1',
      dst: '2001:db8::2',
    });
    expect(Array.from(payload)).toEqual([0xaa]);
  });

  it('defaults hop limit to 64 and ignores trailing padding', () => {
    const packet = concat(encodeIPv6(base, Uint8Array.of(1, 2)), new Uint8Array(6));
    const d = decodeIPv6(packet);
    expect(d.header.hopLimit).toBe(64);
    expect(Array.from(d.payload)).toEqual([1, 2]);
  });

  it('leaves extension headers in the payload', () => {
    const hopByHop = Uint8Array.of(17, 0, 1, 4, 0, 0, 0, 0);
    const d = decodeIPv6(encodeIPv6({ ...base, nextHeader: 0 }, hopByHop));
    expect(d.header.nextHeader).toBe(0);
    expect(d.payload.length).toBe(8);
  });

  it('rejects a wrong version and a payload length beyond the buffer', () => {
    const packet = encodeIPv6(base, new Uint8Array(4));
    const v4 = packet.slice();
    v4[0] = 0x45;
    expectDecodeError(() => decodeIPv6(v4), 'invalid');
    expectDecodeError(() => decodeIPv6(packet.subarray(0, 43)), 'truncated');
    expectDecodeError(() => decodeIPv6(packet.subarray(0, 39)), 'truncated');
  });

  it('rejects out-of-range encoder fields', () => {
    const none = new Uint8Array(0);
    for (const bad of [
      { hopLimit: 256 },
      { dscp: 64 },
      { ecn: 4 },
      { flowLabel: 0x100000 },
      { nextHeader: 256 },
      { src: '1.2.3.4' },
      { dst: '2001:db8::g' },
    ]) {
      expect(() => encodeIPv6({ ...base, ...bad }, none), JSON.stringify(bad)).toThrow(EncodeError);
    }
    expect(() => encodeIPv6(base, new Uint8Array(65536))).toThrow(EncodeError);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const packet = encodeIPv6(base, new Uint8Array(10));
    expect(checkTruncations(packet, decodeIPv6)).toBe(50);
    expect(fuzz(3, packet, decodeIPv6).ok).toBeGreaterThan(0);
  });
});
