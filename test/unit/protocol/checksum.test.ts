import { describe, expect, it } from 'vitest';
import { internetChecksum, onesComplementSum } from '../../../protocol/checksum.js';
import { bytesOf, prng, randomBytes } from './helpers.js';

describe('internet checksum', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    const data = bytesOf('00 01 f2 03 f4 f5 f6 f7');
    expect(onesComplementSum(data)).toBe(0xddf2);
    expect(internetChecksum(data)).toBe(0x220d);
  });

  it('computes the classic IPv4 header checksum 0xb861', () => {
    const header = bytesOf('45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7');
    expect(internetChecksum(header)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(onesComplementSum(header)).toBe(0xffff);
    expect(internetChecksum(header)).toBe(0);
  });

  it('pads an odd tail with zero and honours the initial sum', () => {
    expect(onesComplementSum(Uint8Array.of(0x12, 0x34, 0x56))).toBe(0x6834);
    expect(onesComplementSum(Uint8Array.of(0xff, 0xff), 1)).toBe(1);
    expect(onesComplementSum(new Uint8Array(0))).toBe(0);
    expect(internetChecksum()).toBe(0xffff);
  });

  it('treats chunks as one logical buffer even across odd boundaries', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const data = randomBytes(rand, 1 + Math.floor(rand() * 60));
      const a = Math.floor(rand() * data.length);
      const b = a + Math.floor(rand() * (data.length - a));
      const whole = internetChecksum(data);
      expect(internetChecksum(data.subarray(0, a), data.subarray(a, b), data.subarray(b))).toBe(
        whole,
      );
      expect(internetChecksum(new Uint8Array(0), data, new Uint8Array(0))).toBe(whole);
    }
    // 0x01 | 0x02 0x03 | 0x04 reads as words 0x0102 0x0304
    expect(internetChecksum(Uint8Array.of(1), Uint8Array.of(2, 3), Uint8Array.of(4))).toBe(
      ~(0x0102 + 0x0304) & 0xffff,
    );
  });

  it('folds large sums without losing carries', () => {
    const ones = new Uint8Array(70000).fill(0xff);
    expect(onesComplementSum(ones)).toBe(0xffff);
  });
});
