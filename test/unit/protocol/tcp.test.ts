import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import { pseudoHeaderBytes, pseudoHeaderSum } from '../../../protocol/pseudo-header.js';
import {
  decodeTcp,
  encodeTcp,
  formatTcpFlags,
  TCP_FLAGS,
  tcpChecksumValid,
} from '../../../protocol/tcp.js';
import { checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

const v4 = { src: '192.0.2.1', dst: '198.51.100.2' };
const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const hi = new TextEncoder().encode('hi');
const { SYN, ACK, FIN, RST, PSH, URG, ECE, CWR } = TCP_FLAGS;

describe('tcp', () => {
  it('computes the IPv4 checksum of a SYN worked by hand', () => {
    // Words: c000 0201 c633 6402 | 0006 0014 | c000 0050 0000 0001 0000 0000 5002 ffff 0000 0000
    // sum 0x3fca2 -> fold 0xfca5 -> complement 0x035a
    const s = encodeTcp(
      { srcPort: 49152, dstPort: 80, seq: 1, ack: 0, flags: SYN },
      new Uint8Array(0),
      v4,
    );
    expect(toHex(s)).toBe('c0 00 00 50 00 00 00 01 00 00 00 00 50 02 ff ff 03 5a 00 00');
    expect(tcpChecksumValid(s, v4)).toBe(true);
  });

  it('computes the IPv6 checksum worked by hand, odd payload included', () => {
    // Words: 2001 0db8 0*5 0001 2001 0db8 0*5 0002 | 0000 0016 0000 0006 |
    //        c000 01bb 0102 0304 0a0b 0c0d 5018 1000 0000 0000 6869
    // sum 0x1ffeb -> fold 0xffec -> complement 0x0013
    const s = encodeTcp(
      {
        srcPort: 49152,
        dstPort: 443,
        seq: 0x01020304,
        ack: 0x0a0b0c0d,
        flags: PSH | ACK,
        window: 0x1000,
      },
      hi,
      v6,
    );
    expect(toHex(s.subarray(16, 18))).toBe('00 13');
    expect(tcpChecksumValid(s, v6)).toBe(true);
    expect(tcpChecksumValid(s, { src: v6.dst, dst: '2001:db8::3' })).toBe(false);
    const odd = encodeTcp(
      { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: ACK },
      Uint8Array.of(7),
      v6,
    );
    expect(tcpChecksumValid(odd, v6)).toBe(true);
  });

  it('shares the pseudo-header with UDP and refuses mixed families', () => {
    expect(toHex(pseudoHeaderBytes(v4, 6, 20, 'tcp').bytes)).toBe(
      'c0 00 02 01 c6 33 64 02 00 06 00 14',
    );
    expect(pseudoHeaderBytes(v6, 6, 20, 'tcp').v6).toBe(true);
    // c000 + 0201 + c633 + 6402 + 0006 + 0014 = 0x1ec50 -> fold 0xec51
    expect(pseudoHeaderSum(v4, 6, 20, 'tcp')).toBe(0xec51);
    const mixed = { src: '192.0.2.1', dst: '2001:db8::1' };
    expect(() =>
      encodeTcp({ srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0 }, hi, mixed),
    ).toThrow(/tcp: pseudo-header/);
  });

  it('round-trips every field, options and payload', () => {
    const mss = Uint8Array.of(2, 4, 0x05, 0xb4);
    const s = encodeTcp(
      {
        srcPort: 443,
        dstPort: 51000,
        seq: 0xfffffffe,
        ack: 0x80000000,
        flags: SYN | ACK | ECE | CWR,
        window: 29200,
        urgentPointer: 9,
        options: mss,
      },
      hi,
      v4,
    );
    const { header, headerLength, payload } = decodeTcp(s);
    expect(header).toEqual({
      srcPort: 443,
      dstPort: 51000,
      seq: 0xfffffffe,
      ack: 0x80000000,
      dataOffset: 24,
      flags: SYN | ACK | ECE | CWR,
      window: 29200,
      checksum: (s[16]! << 8) | s[17]!,
      urgentPointer: 9,
      options: mss,
    });
    expect(headerLength).toBe(24);
    expect(new TextDecoder().decode(payload)).toBe('hi');
    expect(tcpChecksumValid(s, v4)).toBe(true);
    expect(decodeTcp(s).header.window).toBe(29200);
    expect(encodeTcp({ srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0 }, hi, v4)[14]).toBe(0xff);
  });

  it('detects a corrupted segment', () => {
    const s = encodeTcp({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: PSH | ACK }, hi, v4);
    s[21] = s[21]! ^ 1;
    expect(tcpChecksumValid(s, v4)).toBe(false);
  });

  it('formats flags in flow-record order', () => {
    expect(formatTcpFlags(0)).toBe('');
    expect(formatTcpFlags(FIN | SYN | ACK)).toBe('SYN|ACK|FIN');
    expect(formatTcpFlags(0xff)).toBe('SYN|ACK|FIN|RST|PSH|URG|ECE|CWR');
    expect(formatTcpFlags(RST | PSH | URG)).toBe('RST|PSH|URG');
    expect(Object.values(TCP_FLAGS).reduce((a, b) => a | b, 0)).toBe(0xff);
  });

  it('rejects bad header lengths', () => {
    const s = encodeTcp({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: ACK }, hi, v4);
    const small = s.slice();
    small[12] = 0x40;
    expectDecodeError(() => decodeTcp(small), 'invalid');
    const big = s.slice();
    big[12] = 0x60; // 24 bytes of header, 22 available
    expectDecodeError(() => decodeTcp(big), 'truncated');
    expectDecodeError(() => decodeTcp(s.subarray(0, 19)), 'truncated');
    expectDecodeError(() => tcpChecksumValid(s.subarray(0, 10), v4), 'truncated');
    // Trailing bytes belong to the payload: only the IP layer knows where a segment ends.
    expect(decodeTcp(concat(s, Uint8Array.of(0))).payload.length).toBe(3);
  });

  it('rejects bad encoder input', () => {
    const ok = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: ACK };
    expect(() => encodeTcp({ ...ok, srcPort: 65536 }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, seq: 2 ** 32 }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, ack: -1 }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, flags: 0x100 }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, window: 70000 }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, options: new Uint8Array(3) }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp({ ...ok, options: new Uint8Array(44) }, hi, v4)).toThrow(EncodeError);
    expect(() => encodeTcp(ok, new Uint8Array(65516), v4)).toThrow(EncodeError);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const s = encodeTcp(
      { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: SYN, options: Uint8Array.of(1, 1, 1, 0) },
      hi,
      v4,
    );
    expect(checkTruncations(s, decodeTcp)).toBe(24);
    expect(fuzz(6, s, decodeTcp).ok).toBeGreaterThan(0);
    fuzz(7, s, (b) => tcpChecksumValid(b, v6), 1000);
  });
});
