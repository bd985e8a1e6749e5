import { describe, expect, it } from 'vitest';
import { deriveEpochKey, TangoNode } from '../../../native/tango.js';
import { EncodeError } from '../../../protocol/errors.js';
import { IPPROTO_UDP } from '../../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../../protocol/ipv4.js';
import {
  decodeTangoFrame,
  decodeTangoHeader,
  encodeTangoHeader,
  TANGO_UDP_PORT,
  tangoTimestampOf,
} from '../../../protocol/tango.js';
import { tangoBook, tangoSignature, tangoTickOf } from '../../../protocol/tango-signature.js';
import { encodeUdp } from '../../../protocol/udp.js';
import {
  bytesOf,
  checkTruncations,
  expectDecodeError,
  fuzz,
  prng,
  randomBytes,
  toHex,
} from './helpers.js';

const T0 = 1_717_200_000_000_000_000n; // 2024-06-01T00:00:00Z in ns

/** IPv4/UDP 192.0.2.1:5000 -> 198.51.100.2:6000 with `payload`, as the hosts behind a node send. */
function innerPacket(payload: Uint8Array, options: { dontFragment?: boolean } = {}) {
  const udp = encodeUdp({ srcPort: 5000, dstPort: 6000 }, payload, { checksum: 'zero' });
  return encodeIPv4(
    {
      src: '192.0.2.1',
      dst: '198.51.100.2',
      protocol: IPPROTO_UDP,
      dscp: 46,
      dontFragment: options.dontFragment ?? true,
    },
    udp,
  );
}

describe('tango header', () => {
  it('decodes the spec layout: path, 12-bit timestamp, signature, sequence, book', () => {
    const { header, headerLength, payload } = decodeTangoHeader(
      bytesOf('05 0a bc de ad be ef 12 34 01 45 00'),
    );
    expect(header).toEqual({
      pathId: 5,
      timestamp: 0xabc,
      signature: 0xdeadbeef,
      sequence: 0x1234,
      book: 1,
    });
    expect(headerLength).toBe(10);
    expect(Array.from(payload)).toEqual([0x45, 0]);
  });

  it('encodes the same bytes and refuses values wider than their fields', () => {
    const h = {
      pathId: 5,
      timestamp: 0xabc,
      signature: 0xdeadbeef,
      sequence: 0x1234,
      book: 1 as const,
    };
    expect(toHex(encodeTangoHeader(h))).toBe('05 0a bc de ad be ef 12 34 01');
    for (const bad of [{ pathId: 8 }, { timestamp: 0x1000 }, { sequence: 0x10000 }, { book: 2 }]) {
      expect(() => encodeTangoHeader({ ...h, ...bad } as typeof h)).toThrow(EncodeError);
    }
  });

  it('refuses every padding bit as invalid', () => {
    const valid = bytesOf('05 0a bc de ad be ef 12 34 01');
    const padding: [number, number][] = [
      [0, 0xf8],
      [1, 0xf0],
      [9, 0xfe],
    ];
    let refused = 0;
    for (const [at, mask] of padding) {
      for (let bit = 0; bit < 8; bit++) {
        if (!((mask >> bit) & 1)) continue;
        const b = valid.slice();
        b[at]! ^= 1 << bit;
        expectDecodeError(() => decodeTangoHeader(b), 'invalid');
        refused++;
      }
    }
    expect(refused).toBe(5 + 4 + 7);
  });

  it('refuses truncations and survives random input with DecodeError only', () => {
    const valid = bytesOf('05 0a bc de ad be ef 12 34 01');
    expect(checkTruncations(valid, decodeTangoHeader)).toBe(10);
    const outcomes = fuzz(12, valid, decodeTangoHeader);
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes['decode-error']).toBeGreaterThan(0);
  });
});

// Frames made by the C encoder (native/src/tango.c through native/tango.ts), decoded here: the
// test keeps what it asked the encoder for, and the decoder must agree with it.
describe('tango frames from the C encoder', () => {
  const secret = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
  const key = deriveEpochKey(secret, 7);
  const paths = [0, 1, 2].map((pathId) => ({
    pathId,
    localAddress: `2001:db8:a::${pathId + 1}`,
    peerAddress: `2001:db8:b${pathId}::1`,
    localMac: '02:00:00:00:00:0a',
    nextHopMac: `02:00:00:00:01:0${pathId}`,
  }));

  function sender() {
    const node = new TangoNode({ side: 0 });
    for (const p of paths) node.setPath(p);
    node.setSendKey(7, key);
    return node;
  }

  it('writes what it was given: addresses, ports, path, timestamp, sequence, inner bytes', () => {
    const node = sender();
    const rand = prng(3);
    const sent: { pathId: number; now: bigint; inner: Uint8Array; seq: number }[] = [];
    const perPath = [0, 0, 0];
    for (let i = 0; i < 60; i++) {
      const pathId = i % 3;
      const now = T0 + BigInt(i) * 3_700_000n + BigInt(Math.floor(rand() * 1e6));
      const inner = innerPacket(randomBytes(rand, Math.floor(rand() * 1400)), {
        dontFragment: i % 2 === 0,
      });
      sent.push({ pathId, now, inner, seq: perPath[pathId]!++ });
    }
    // Send in time order per path (the sender holds its clock), then decode each frame.
    for (const s of sent) {
      const frame = node.encapsulate(s.pathId, s.inner, s.now);
      const p = paths[s.pathId]!;
      const d = decodeTangoFrame(frame);
      expect(d.ethernet).toMatchObject({ src: p.localMac, dst: p.nextHopMac, etherType: 0x86dd });
      expect(d.ipv6).toMatchObject({
        src: p.localAddress,
        dst: p.peerAddress,
        nextHeader: 17,
        hopLimit: 64,
        dscp: 46,
        ecn: 0,
        flowLabel: 0,
        payloadLength: 8 + 10 + s.inner.length,
      });
      expect(d.udp).toMatchObject({ srcPort: TANGO_UDP_PORT, dstPort: TANGO_UDP_PORT });
      expect(d.udp.checksum).not.toBe(0);
      expect(d.udpChecksumValid).toBe(true);
      expect(d.tango).toMatchObject({
        pathId: s.pathId,
        timestamp: tangoTimestampOf(s.now),
        sequence: s.seq,
      });
      expect(toHex(d.inner)).toBe(toHex(s.inner));
      expect(d.innerIPv4).toMatchObject({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 17 });
      // The tag and the book bit, recomputed by the TypeScript implementation of tango_sig.c's layout.
      const fields = { side: 0, pathId: s.pathId, epoch: 7, sequence: s.seq };
      expect(d.tango.signature).toBe(
        tangoSignature(key, { ...fields, tick: tangoTickOf(s.now) }, s.inner),
      );
      expect(d.tango.book).toBe(tangoBook(key, fields));
    }
    expect(node.pathStats(1).tx_packets).toBe(20);
    node.close();
  });

  it('agrees with the C known-answer vector of native/test/tango_sig_test.c', () => {
    // Key 00..0f, epoch 7, side 1, path 3, tick T0 >> 20, seq 0xfffe, inner = make_inner(40, 0).
    const inner = innerPacket(
      Uint8Array.from({ length: 12 }, (_, i) => 28 + i),
      {
        dontFragment: false,
      },
    );
    const kat = Uint8Array.from({ length: 16 }, (_, i) => i);
    const fields = { side: 1, pathId: 3, epoch: 7, sequence: 0xfffe };
    expect(tangoSignature(kat, { ...fields, tick: T0 >> 20n }, inner)).toBe(0xe0c300d5);
    expect(tangoBook(kat, fields)).toBe(1);
  });

  it('refuses what is not a Tango frame, with the layer that refused it', () => {
    const node = sender();
    const frame = node.encapsulate(0, innerPacket(new Uint8Array(20)), T0);
    const other = frame.slice();
    other[14 + 40 + 3]! ^= 1; // another UDP port
    expectDecodeError(() => decodeTangoFrame(other), 'unsupported');
    expect(decodeTangoFrame(other, { port: TANGO_UDP_PORT ^ 1 }).tango.pathId).toBe(0);
    const v4 = frame.slice();
    v4[12] = 0x08;
    v4[13] = 0x00;
    expectDecodeError(() => decodeTangoFrame(v4), 'unsupported');
    const longer = frame.slice();
    longer[14 + 40 + 8 + 10 + 3]! += 1; // inner total length one more than what follows
    expectDecodeError(() => decodeTangoFrame(longer), 'truncated');
    const shorter = frame.slice();
    shorter[14 + 40 + 8 + 10 + 3]! -= 1;
    expectDecodeError(() => decodeTangoFrame(shorter), 'invalid');
    const broken = frame.slice();
    broken[frame.length - 1]! ^= 1;
    expect(decodeTangoFrame(broken).udpChecksumValid).toBe(false);
    expect(checkTruncations(frame, decodeTangoFrame)).toBe(frame.length);
    node.close();
  });
});
