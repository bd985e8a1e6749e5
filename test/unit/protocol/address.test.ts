import { describe, expect, it } from 'vitest';
import {
  formatIPv4,
  formatIPv6,
  formatMac,
  ipv4ToUint32,
  isIPv4,
  isIPv6,
  parseIPv4,
  parseIPv6,
  parseMac,
  uint32ToIPv4,
} from '../../../protocol/address.js';
import { DecodeError, EncodeError } from '../../../protocol/errors.js';
import { toHex } from './helpers.js';

describe('IPv4 text', () => {
  it('parses and formats dotted quads', () => {
    expect(Array.from(parseIPv4('192.168.0.199'))).toEqual([192, 168, 0, 199]);
    expect(formatIPv4(Uint8Array.of(9, 10, 0, 255, 1), 1)).toBe('10.0.255.1');
    expect(formatIPv4(parseIPv4('0.0.0.0'))).toBe('0.0.0.0');
  });

  it.each([
    '01.2.3.4',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3.-1',
    ' 1.2.3.4',
    '1..2.3',
    '',
    'a.b.c.d',
    '1.2.3.4 ',
  ])('rejects %j', (text) => {
    expect(() => parseIPv4(text)).toThrow(EncodeError);
    expect(isIPv4(text)).toBe(false);
  });

  it('refuses to format past the end of the buffer', () => {
    expect(() => formatIPv4(new Uint8Array(4), 1)).toThrow(DecodeError);
  });

  it('converts to and from uint32', () => {
    expect(ipv4ToUint32('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToUint32('10.0.0.1')).toBe(0x0a000001);
    expect(uint32ToIPv4(0xc0a800c7)).toBe('192.168.0.199');
    expect(() => uint32ToIPv4(2 ** 32)).toThrow(EncodeError);
    expect(() => uint32ToIPv4(-1)).toThrow(EncodeError);
    expect(() => uint32ToIPv4(1.5)).toThrow(EncodeError);
  });
});

describe('IPv6 text', () => {
  it.each([
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // first of equal runs
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a lone zero group stays
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'], // longest run wins
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['FE80::ABCD', 'fe80::abcd'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'], // RFC 5952 §5 mapped form
    ['::FFFF:192.0.2.1', '::ffff:192.0.2.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ])('canonicalises %s as %s', (input, canonical) => {
    expect(formatIPv6(parseIPv6(input))).toBe(canonical);
    expect(isIPv6(input)).toBe(true);
  });

  it('places groups correctly around ::', () => {
    expect(toHex(parseIPv6('1:2::7:8'))).toBe('00 01 00 02 00 00 00 00 00 00 00 00 00 07 00 08');
  });

  it.each([
    '',
    ':',
    ':::',
    '1::2::3',
    '12345::',
    'g::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    ':1::',
    '1:2:3:4:5:6:7:',
    '::1.2.3.256',
    '::1.2.3',
    '1.2.3.4',
    '1.2.3.4::',
    'fe80::1%eth0',
  ])('rejects %j', (text) => {
    expect(() => parseIPv6(text)).toThrow(EncodeError);
    expect(isIPv6(text)).toBe(false);
  });

  it('formats at an offset and bounds-checks', () => {
    const buf = new Uint8Array(20);
    buf[19] = 1;
    expect(formatIPv6(buf, 4)).toBe('::1');
    expect(() => formatIPv6(buf, 5)).toThrow(DecodeError);
  });
});

describe('MAC text', () => {
  it('parses either separator and formats lower case', () => {
    expect(formatMac(parseMac('AA-bb-CC-00-11-22'))).toBe('aa:bb:cc:00:11:22');
    expect(formatMac(Uint8Array.of(0, 1, 2, 3, 4, 5, 6), 1)).toBe('01:02:03:04:05:06');
  });

  it.each([
    'aa:bb:cc:dd:ee',
    'aa:bb:cc:dd:ee:ff:00',
    'aa:bb-cc:dd:ee:ff',
    'aabbccddeeff',
    'gg:bb:cc:dd:ee:ff',
  ])('rejects %j', (text) => expect(() => parseMac(text)).toThrow(EncodeError));

  it('bounds-checks formatting', () => {
    expect(() => formatMac(new Uint8Array(5))).toThrow(DecodeError);
  });
});
