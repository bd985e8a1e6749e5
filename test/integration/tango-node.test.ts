import { describe, expect, it } from 'vitest';
import {
  deriveEpochKey,
  TANGO_REJECT_REASONS,
  TangoEncapsulateError,
  TangoNode,
  type TangoPath,
} from '../../native/tango.js';
import { formatIPv6 } from '../../protocol/address.js';
import { internetChecksum } from '../../protocol/checksum.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from '../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { pseudoHeaderBytes } from '../../protocol/pseudo-header.js';
import { encodeUdp } from '../../protocol/udp.js';
import { prng } from '../helpers/prng.js';

// The C Tango core through its binding (native/binding/tango.cc) and typed wrapper
// (native/tango.ts): two real nodes, frames handed from one to the other in process with the
// clocks the test chooses, so delay, loss and reordering are the test's own doing.

const T0 = 1_717_200_000_000_000_000n;
const MS = 1_000_000n;
const secret = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

function pathsOf(side: 0 | 1, count: number): TangoPath[] {
  return Array.from({ length: count }, (_, pathId) => {
    const a = `2001:db8:a::${pathId + 1}`;
    const b = `2001:db8:b${pathId}::1`;
    return {
      pathId,
      localAddress: side === 0 ? a : b,
      peerAddress: side === 0 ? b : a,
      localMac: side === 0 ? '02:00:00:00:00:0a' : '02:00:00:00:00:0b',
      nextHopMac: side === 0 ? '02:00:00:00:00:0b' : '02:00:00:00:00:0a',
    };
  });
}

/** Site A (side 0) and site B (side 1), both signing and accepting epoch 1. */
function pair(options: { graceMs?: number } = {}) {
  const nodes = ([0, 1] as const).map((side) => {
    const node = new TangoNode({ side, ...options });
    for (const p of pathsOf(side, 3)) node.setPath(p);
    node.setSendKey(1, deriveEpochKey(secret, 1));
    node.rotateReceiveKey(1, deriveEpochKey(secret, 1), T0 - 1000n * MS);
    return node;
  });
  return { a: nodes[0]!, b: nodes[1]! };
}

function udpPacket(i: number, size = 200): Uint8Array {
  const payload = Uint8Array.from({ length: size }, (_, k) => (i * 31 + k) & 0xff);
  const pseudo = { src: '192.0.2.1', dst: '198.51.100.2' };
  return encodeIPv4(
    { ...pseudo, protocol: IPPROTO_UDP, identification: i & 0xffff },
    encodeUdp({ srcPort: 40000, dstPort: 53 }, payload, { checksum: 'compute', pseudo }),
  );
}

function icmpEcho(i: number): Uint8Array {
  const icmp = Uint8Array.from({ length: 40 }, (_, k) => k);
  icmp[0] = 8;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  new DataView(icmp.buffer).setUint16(6, i);
  new DataView(icmp.buffer).setUint16(2, internetChecksum(icmp));
  return encodeIPv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: IPPROTO_ICMP }, icmp);
}

/** Recomputes the outer UDP checksum, so that a tampered frame reaches the Tango checks. */
function fixChecksum(frame: Uint8Array): Uint8Array {
  const udp = frame.subarray(54);
  udp[6] = udp[7] = 0;
  const pseudo = pseudoHeaderBytes(
    { src: formatIPv6(frame, 22), dst: formatIPv6(frame, 38) },
    IPPROTO_UDP,
    udp.length,
    'test',
  );
  const sum = internetChecksum(pseudo.bytes, udp) || 0xffff;
  new DataView(udp.buffer, udp.byteOffset).setUint16(6, sum);
  return frame;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Tango nodes (C core through native/tango.ts)', () => {
  it('carries UDP and ICMP packets intact both ways over three paths, with delay per path', () => {
    const { a, b } = pair();
    const delays = [12n * MS, 35n * MS, 80n * MS];
    for (let i = 0; i < 300; i++) {
      const pathId = i % 3;
      const sentAt = T0 + BigInt(i) * 2n * MS;
      const inner = i % 5 === 0 ? icmpEcho(i) : udpPacket(i, i % 1000);
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const frame = from.encapsulate(pathId, inner, sentAt);
      const got = to.decapsulate(frame, sentAt + delays[pathId]!);
      if (!got.ok) throw new Error(`packet ${i} refused: ${got.reason}`);
      expect(hex(got.inner)).toBe(hex(inner));
      expect(got.pathId).toBe(pathId);
      // The 12-bit timestamp puts the send time in a 1.048576 ms tick; the node takes its middle.
      expect(Math.abs(got.delayNs - Number(delays[pathId]!))).toBeLessThanOrEqual(524_288);
    }
    for (const [node, sentBy] of [
      [b, a],
      [a, b],
    ] as const) {
      for (let pathId = 0; pathId < 3; pathId++) {
        const rx = node.pathStats(pathId);
        const tx = sentBy.pathStats(pathId);
        expect(rx.rx_packets).toBe(50);
        expect(tx.tx_packets).toBe(50);
        expect(rx.rx_bytes).toBe(tx.tx_bytes);
        expect(rx.rx_lost).toBe(0);
        expect(rx.delay_samples).toBe(50);
        expect(Math.abs(rx.delay_sum_ns / 50 - Number(delays[pathId]!))).toBeLessThanOrEqual(
          524_288,
        );
      }
      expect(node.stats()).toMatchObject({ rx_frames: 150, rx_accepted: 150, tx_packets: 150 });
    }
    a.close();
    b.close();
  });

  it('counts loss from sequence gaps and reordering exactly as the test caused them', () => {
    const { a, b } = pair();
    const rand = prng(42);
    const frames = Array.from({ length: 5000 }, (_, i) =>
      a.encapsulate(1, udpPacket(i, 64), T0 + BigInt(i) * 100_000n),
    );
    // Lose about 3 %, and swap about 2 % of neighbours.
    let lost = 0;
    let swapped = 0;
    const delivered: Uint8Array[] = [];
    for (let i = 0; i < frames.length; i++) {
      if (rand() < 0.03) {
        lost++;
        continue;
      }
      if (i + 1 < frames.length && rand() < 0.02) {
        delivered.push(frames[i + 1]!, frames[i]!);
        swapped++;
        i++;
        continue;
      }
      delivered.push(frames[i]!);
    }
    const last = frames.length - 1;
    if (!delivered.includes(frames[last]!)) {
      delivered.push(frames[last]!); // the newest arrives, so every gap is behind the top
      lost--;
    }
    for (const f of delivered) expect(b.decapsulate(f, T0 + 600n * MS).ok).toBe(true);
    const s = b.pathStats(1);
    expect(s.rx_packets).toBe(frames.length - lost);
    expect(s.rx_expected).toBe(frames.length);
    expect(s.rx_lost).toBe(lost);
    expect(s.rx_reordered).toBe(swapped);
    expect(lost).toBeGreaterThan(100);
    expect(swapped).toBeGreaterThan(50);
    a.close();
    b.close();
  });

  it('refuses every forged packet, every replay and stale packets, and counts them by reason', () => {
    const { a, b } = pair();
    const rand = prng(9);
    const genuine = Array.from({ length: 200 }, (_, i) =>
      a.encapsulate(0, udpPacket(i), T0 + BigInt(i) * MS),
    );
    const now = T0 + 250n * MS;
    for (const f of genuine) expect(b.decapsulate(f, now).ok).toBe(true);

    let forged = 0;
    for (let i = 0; i < 2000; i++) {
      const f = genuine[i % genuine.length]!.slice();
      const at = i % 2 === 0 ? 54 + 8 + 3 + (i % 4) : 54 + 8 + 10 + 28 + (i % 150); // tag or inner payload
      f[at]! ^= 1 + Math.floor(rand() * 255);
      const got = b.decapsulate(fixChecksum(f), now);
      expect(got).toEqual({ ok: false, reason: 'bad_signature' });
      forged++;
    }
    for (const f of genuine) {
      const got = b.decapsulate(f, now);
      expect(got.ok).toBe(false);
    }
    const stale = a.encapsulate(0, udpPacket(999), T0 + 300n * MS);
    expect(b.decapsulate(stale, T0 + 1100n * MS)).toEqual({ ok: false, reason: 'stale' });

    const s = b.pathStats(0);
    expect(s.rejects.bad_signature).toBe(forged);
    expect(s.rejects.replay).toBe(200); // all within the 1024-packet window
    expect(s.rejects.stale).toBe(1);
    expect(s.rx_packets).toBe(200);
    const total = b.stats();
    expect(Object.keys(total.rejects)).toEqual([...TANGO_REJECT_REASONS]);
    expect(total.rx_frames).toBe(200 + forged + 200 + 1);
    a.close();
    b.close();
  });

  it('rotates epochs: the previous key is accepted in its grace, then counted as wrong_epoch', () => {
    const { a, b } = pair({ graceMs: 5000 });
    const inner = udpPacket(1);
    let t = T0;
    // B rotates its receiver first; A still signs epoch 1 and B accepts it in the grace.
    b.rotateReceiveKey(2, deriveEpochKey(secret, 2), t);
    t += MS;
    const old = b.decapsulate(a.encapsulate(0, inner, t), t);
    expect(old).toMatchObject({ ok: true, epoch: 1 });
    a.setSendKey(2, deriveEpochKey(secret, 2));
    t += MS;
    expect(b.decapsulate(a.encapsulate(0, inner, t), t)).toMatchObject({
      ok: true,
      epoch: 2,
    });
    // A sender still on epoch 1 after the grace is refused, and named as such.
    const laggard = new TangoNode({ side: 0 });
    laggard.setPath(pathsOf(0, 1)[0]!);
    laggard.setSendKey(1, deriveEpochKey(secret, 1));
    t += 5001n * MS;
    expect(b.decapsulate(laggard.encapsulate(0, inner, t), t)).toEqual({
      ok: false,
      reason: 'wrong_epoch',
    });
    // An epoch nobody installed, or another pair's secret: forged as far as B can tell.
    laggard.setSendKey(3, deriveEpochKey(secret, 3));
    expect(b.decapsulate(laggard.encapsulate(0, inner, t), t)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    laggard.setSendKey(2, deriveEpochKey(new Uint8Array(32).fill(1), 2));
    expect(b.decapsulate(laggard.encapsulate(0, inner, t), t)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(() => b.rotateReceiveKey(2, deriveEpochKey(secret, 2), t)).toThrow(/newer/);
    expect(b.pathStats(0).rejects).toMatchObject({ wrong_epoch: 1, bad_signature: 2 });
    laggard.close();
    a.close();
    b.close();
  });

  it('derives epoch keys from the pair secret: the same on both ends, different per epoch', () => {
    expect(hex(deriveEpochKey(secret, 5))).toBe(hex(deriveEpochKey(secret.slice(), 5)));
    expect(hex(deriveEpochKey(secret, 5))).not.toBe(hex(deriveEpochKey(secret, 6)));
    expect(deriveEpochKey(secret, 0xffffffff)).toHaveLength(16);
    expect(() => deriveEpochKey(secret.subarray(1), 1)).toThrow(/32 bytes/);
    expect(() => deriveEpochKey(secret, -1)).toThrow(RangeError);
  });

  it('refuses bad input with errors that say what is wrong', () => {
    expect(() => new TangoNode({} as { side: 0 })).toThrow(/side is required/);
    expect(() => new TangoNode({ side: 2 as 0 })).toThrow(/side must be at most 1/);
    expect(() => new TangoNode({ side: 0, mtu: 1000 })).toThrow(/mtu must be 1280..9216/);
    expect(() => new TangoNode({ side: 0, maxAgeMs: 900, maxAheadMs: 200 })).toThrow(/1000/);
    const node = new TangoNode({ side: 0, mtu: 1280 });
    const good = pathsOf(0, 1)[0]!;
    expect(() => node.setPath({ ...good, pathId: 8 })).toThrow(/0..7/);
    expect(() => node.setPath({ ...good, localAddress: '192.0.2.1' })).toThrow(/IPv6/);
    expect(() => node.setPath({ ...good, nextHopMac: '02:00:00:00:00' })).toThrow(/MAC/);
    expect(() => node.setSendKey(1, new Uint8Array(15))).toThrow(/16 bytes/);
    node.setPath(good);

    const code = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(TangoEncapsulateError);
        return (error as TangoEncapsulateError).code;
      }
      return 'no error';
    };
    expect(code(() => node.encapsulate(0, udpPacket(1), T0))).toBe('no_key');
    node.setSendKey(1, deriveEpochKey(secret, 1));
    expect(code(() => node.encapsulate(1, udpPacket(1), T0))).toBe('unknown_path');
    expect(code(() => node.encapsulate(0, udpPacket(1).subarray(1), T0))).toBe('bad_inner');
    expect(code(() => node.encapsulate(0, udpPacket(1, 1280 - 58 - 28 + 1), T0))).toBe('too_big');
    expect(node.encapsulate(0, udpPacket(1, 1280 - 58 - 28), T0)).toHaveLength(1280 + 14);
    expect(node.stats()).toMatchObject({ tx_packets: 1, tx_errors: 4 });
    expect(() => node.encapsulate(0, udpPacket(1), 5 as unknown as bigint)).toThrow(/bigint/);
    node.close();
    node.close();
    expect(() => node.stats()).toThrow(/closed/);
  });
});
