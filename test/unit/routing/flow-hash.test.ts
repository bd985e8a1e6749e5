import { describe, expect, it } from 'vitest';
import {
  encapsulationSourcePort,
  type FiveTuple,
  flowHash,
} from '../../../functions/routing/flow-hash.js';

const BASE: FiveTuple = {
  src: '10.0.0.1',
  dst: '10.4.0.101',
  protocol: 17,
  srcPort: 51000,
  dstPort: 8080,
};

/** Independent 32-bit FNV-1a over src(4) dst(4) proto(1) sport(2) dport(2), with BigInt. */
function referenceFnv1a(t: FiveTuple): number {
  const bytes = [
    ...t.src.split('.').map(Number),
    ...t.dst.split('.').map(Number),
    t.protocol,
    t.srcPort >> 8,
    t.srcPort & 0xff,
    t.dstPort >> 8,
    t.dstPort & 0xff,
  ];
  let h = 0x811c9dc5n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x01000193n) & 0xffffffffn;
  return Number(h);
}

describe('flowHash', () => {
  it('is deterministic and an unsigned 32-bit FNV-1a of the 5-tuple', () => {
    const h = flowHash(BASE);
    expect(flowHash({ ...BASE })).toBe(h);
    expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    expect(h).toBe(referenceFnv1a(BASE));
    const other = { ...BASE, src: '255.255.255.255', srcPort: 65535, dstPort: 1 };
    expect(flowHash(other)).toBe(referenceFnv1a(other));
  });

  it.each<[keyof FiveTuple, string | number]>([
    ['src', '10.0.0.2'],
    ['src', '11.0.0.1'],
    ['dst', '10.4.0.100'],
    ['protocol', 6],
    ['srcPort', 51001],
    ['srcPort', 51000 + 256],
    ['dstPort', 8081],
    ['dstPort', 8080 + 256],
  ])('changes when %s becomes %j', (field, value) => {
    expect(flowHash({ ...BASE, [field]: value })).not.toBe(flowHash(BASE));
  });

  it('distinguishes swapped source and destination', () => {
    const swapped = {
      ...BASE,
      src: BASE.dst,
      dst: BASE.src,
      srcPort: BASE.dstPort,
      dstPort: BASE.srcPort,
    };
    expect(flowHash(swapped)).not.toBe(flowHash(BASE));
  });
});

describe('encapsulationSourcePort', () => {
  it.each([0, 1, 16383, 16384, 49151, 0x7fffffff, 0xfffffffe, 0xffffffff])(
    'maps hash %d into 49152..65535',
    (hash) => {
      const port = encapsulationSourcePort(hash);
      expect(port).toBeGreaterThanOrEqual(49152);
      expect(port).toBeLessThanOrEqual(65535);
      expect(port).toBe(49152 + (hash % 16384));
    },
  );

  it('stays in range and uses the whole range over many flows', () => {
    const seen = new Set<number>();
    for (let sport = 0; sport < 65536; sport++) {
      seen.add(encapsulationSourcePort(flowHash({ ...BASE, srcPort: sport })));
    }
    const ports = [...seen];
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(49152);
    expect(Math.min(...ports)).toBeLessThan(49152 + 64);
    expect(Math.max(...ports)).toBeLessThanOrEqual(65535);
    expect(Math.max(...ports)).toBeGreaterThan(65535 - 64);
    expect(seen.size).toBeGreaterThan(16384 * 0.9);
  });
});
