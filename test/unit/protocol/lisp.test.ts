import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../../protocol/errors.js';
import { decodeLispData, encodeLispData, formatLispFlags } from '../../../protocol/lisp.js';
import { bytesOf, checkTruncations, concat, expectDecodeError, fuzz, toHex } from './helpers.js';

describe('lisp data header', () => {
  it('decodes 0x88: N|I with nonce 0xabcdef and IID 1001', () => {
    const inner = Uint8Array.of(0x45, 0);
    const { header, headerLength, payload } = decodeLispData(
      concat(bytesOf('88 ab cd ef 00 03 e9 00'), inner),
    );
    expect(headerLength).toBe(8);
    expect(header).toEqual({
      flags: { N: true, L: false, E: false, V: false, I: true },
      flagsByte: 0x88,
      reserved: 0,
      nonce: 0xabcdef,
      instanceId: 1001,
      lsb: 0,
    });
    expect(formatLispFlags(header.flags)).toBe('N|I');
    expect(Array.from(payload)).toEqual([0x45, 0]);
  });

  it('decodes 0xc8 with 8-bit locator-status-bits', () => {
    const { header } = decodeLispData(bytesOf('c8 00 00 01 00 03 e9 05'));
    expect(formatLispFlags(header.flags)).toBe('N|L|I');
    expect(header.instanceId).toBe(1001);
    expect(header.lsb).toBe(5);
  });

  it('decodes 0xc0 with 32-bit locator-status-bits', () => {
    const { header } = decodeLispData(bytesOf('c0 12 34 56 80 00 00 03'));
    expect(formatLispFlags(header.flags)).toBe('N|L');
    expect(header.instanceId).toBeUndefined();
    expect(header.lsb).toBe(0x80000003);
  });

  it('decodes map versions and reserved bits', () => {
    const { header } = decodeLispData(bytesOf('17 00 10 02 00 00 00 00'));
    expect(header.flags.V).toBe(true);
    expect(header.nonce).toBeUndefined();
    expect(header.sourceMapVersion).toBe(1);
    expect(header.destMapVersion).toBe(2);
    expect(header.reserved).toBe(7);
    expect(header.lsb).toBe(0);
    expect(formatLispFlags(decodeLispData(new Uint8Array(8)).header.flags)).toBe('');
  });

  it('encodes the same vectors', () => {
    expect(toHex(encodeLispData({ nonce: 0xabcdef, instanceId: 1001 }))).toBe(
      '88 ab cd ef 00 03 e9 00',
    );
    expect(toHex(encodeLispData({ nonce: 1, instanceId: 1001, lsb: 5 }))).toBe(
      'c8 00 00 01 00 03 e9 05',
    );
    expect(toHex(encodeLispData({ nonce: 0x123456, lsb: 0x80000003 }))).toBe(
      'c0 12 34 56 80 00 00 03',
    );
    expect(toHex(encodeLispData({}))).toBe('00 00 00 00 00 00 00 00');
    expect(toHex(encodeLispData({ nonce: 0, echoNonceRequest: true }))).toBe(
      'a0 00 00 00 00 00 00 00',
    );
    expect(toHex(encodeLispData({ mapVersion: { source: 0xfff, dest: 1 } }))).toBe(
      '10 ff f0 01 00 00 00 00',
    );
    expect(toHex(encodeLispData({ instanceId: 0xffffff, lsb: 0 }))).toBe('48 00 00 00 ff ff ff 00');
  });

  it('round-trips field combinations', () => {
    const cases = [
      { nonce: 0xffffff, echoNonceRequest: true, instanceId: 0, lsb: 255 },
      { mapVersion: { source: 4095, dest: 4095 }, instanceId: 7 },
      { lsb: 0xffffffff },
      { instanceId: 0xffffff },
    ];
    for (const f of cases) {
      const { header: h } = decodeLispData(encodeLispData(f));
      expect(h.flags).toEqual({
        N: 'nonce' in f,
        L: 'lsb' in f,
        E: 'echoNonceRequest' in f,
        V: 'mapVersion' in f,
        I: 'instanceId' in f,
      });
      if ('nonce' in f) expect(h.nonce).toBe(f.nonce);
      if ('mapVersion' in f) expect([h.sourceMapVersion, h.destMapVersion]).toEqual([4095, 4095]);
      if ('instanceId' in f) expect(h.instanceId).toBe(f.instanceId);
      expect(h.lsb).toBe('lsb' in f ? f.lsb : 0);
    }
  });

  it('rejects headers Wireshark flags as malformed', () => {
    expectDecodeError(() => decodeLispData(bytesOf('90 00 00 00 00 00 00 00')), 'invalid'); // N+V
    expectDecodeError(() => decodeLispData(bytesOf('20 00 00 00 00 00 00 00')), 'invalid'); // E only
    expectDecodeError(() => decodeLispData(new Uint8Array(7)), 'truncated');
  });

  it('rejects invalid encoder input', () => {
    for (const bad of [
      { nonce: 1, mapVersion: { source: 1, dest: 1 } },
      { echoNonceRequest: true },
      { nonce: 0x1000000 },
      { nonce: -1 },
      { nonce: 0.5 },
      { instanceId: 0x1000000 },
      { mapVersion: { source: 4096, dest: 0 } },
      { mapVersion: { source: 0, dest: 4096 } },
      { instanceId: 1, lsb: 256 },
      { lsb: 0x100000000 },
    ]) {
      expect(() => encodeLispData(bad), JSON.stringify(bad)).toThrow(EncodeError);
    }
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const d = concat(encodeLispData({ nonce: 5, instanceId: 9, lsb: 1 }), new Uint8Array(4));
    expect(checkTruncations(d, decodeLispData)).toBe(8);
    const outcomes = fuzz(6, d, decodeLispData);
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes['decode-error']).toBeGreaterThan(0);
  });
});
