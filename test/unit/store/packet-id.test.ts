import { beforeEach, describe, expect, it, vi } from 'vitest';

const { randomInt } = vi.hoisted(() => ({
  randomInt: vi.fn((_min: number, max: number) => max - 1),
}));
vi.mock('node:crypto', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:crypto')>()),
  randomInt,
}));

const { createPacketIdGenerator, PACKET_ID_PATTERN, packetIdRange } = await import(
  '../../../functions/store/packet-id.js'
);

const MS = 1_700_000_000_123;
const msOf = (id: string) => Number.parseInt(id.slice(0, 12), 16);
const seqOf = (id: string) => Number.parseInt(id.slice(12), 16);

function expectStrictlyIncreasing(ids: string[]) {
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1]! < ids[i]!))
      throw new Error(`ids[${i - 1}]=${ids[i - 1]} >= ids[${i}]=${ids[i]}`);
  }
}

describe('createPacketIdGenerator', () => {
  beforeEach(() => {
    randomInt.mockClear();
  });

  it('makes 16 lower-case hex digits: 12 of epoch ms and a 4-digit sequence', () => {
    const next = createPacketIdGenerator();
    const id = next(MS);
    expect(id).toMatch(PACKET_ID_PATTERN);
    expect(id).toHaveLength(16);
    expect(msOf(id)).toBe(MS);
    expect(randomInt).toHaveBeenCalledWith(0, 0x8000);
    expect(seqOf(id)).toBe(0x7fff);
    expect(PACKET_ID_PATTERN.test('0123456789ABCDEF')).toBe(false);
    expect(PACKET_ID_PATTERN.test('0123456789abcde')).toBe(false);
  });

  it('floors fractional milliseconds', () => {
    expect(msOf(createPacketIdGenerator()(MS + 0.999))).toBe(MS);
  });

  it('is strictly increasing for repeated calls in the same millisecond', () => {
    const next = createPacketIdGenerator();
    const ids = Array.from({ length: 1000 }, () => next(MS));
    expectStrictlyIncreasing(ids);
    expect(new Set(ids).size).toBe(1000);
    expect(randomInt).toHaveBeenCalledTimes(1);
  });

  it('stays strictly increasing across a sequence overflow', () => {
    const next = createPacketIdGenerator();
    const ids = Array.from({ length: 0x10001 }, () => next(MS));
    expectStrictlyIncreasing(ids);
    expect(ids.every((id) => PACKET_ID_PATTERN.test(id))).toBe(true);
    // The sequence started at 0x7fff, so the ms part moved forward once.
    expect(msOf(ids.at(-1)!)).toBe(MS + 1);
    expect(next(MS + 1) > ids.at(-1)!).toBe(true);
  });

  it('is strictly increasing when the clock goes back', () => {
    const next = createPacketIdGenerator();
    const times = [MS, MS - 1, MS - 5000, MS + 3, MS + 2, 0, MS + 3, MS + 10];
    const ids = times.map((t) => next(t));
    expectStrictlyIncreasing(ids);
    expect(msOf(ids[1]!)).toBe(MS);
    expect(msOf(ids[7]!)).toBe(MS + 10);
  });

  it('starts a new random sequence in each new millisecond', () => {
    randomInt.mockReturnValueOnce(5).mockReturnValueOnce(9);
    const next = createPacketIdGenerator();
    expect(next(MS)).toBe(`${MS.toString(16).padStart(12, '0')}0005`);
    expect(next(MS)).toBe(`${MS.toString(16).padStart(12, '0')}0006`);
    expect(next(MS + 1)).toBe(`${(MS + 1).toString(16).padStart(12, '0')}0009`);
  });
});

describe('packetIdRange', () => {
  it('brackets every id generated inside the range', () => {
    const since = MS;
    const until = MS + 20;
    const { low, high } = packetIdRange(since, until);
    expect(low).toMatch(PACKET_ID_PATTERN);
    expect(high).toMatch(PACKET_ID_PATTERN);
    const next = createPacketIdGenerator();
    for (let t = since; t <= until; t++) {
      for (let i = 0; i < 3; i++) {
        const id = next(t);
        expect(id >= low && id <= high).toBe(true);
      }
    }
    expect(createPacketIdGenerator()(since - 1) < low).toBe(true);
    expect(createPacketIdGenerator()(until + 1) > high).toBe(true);
  });

  it('uses the whole id space when open-ended', () => {
    expect(packetIdRange()).toEqual({ low: '0000000000000000', high: 'ffffffffffffffff' });
    expect(packetIdRange(MS).high).toBe('ffffffffffffffff');
    expect(packetIdRange(undefined, MS).low).toBe('0000000000000000');
  });

  it('clamps out-of-range instants and floors fractions', () => {
    expect(packetIdRange(-5, 2 ** 60)).toEqual({
      low: '0000000000000000',
      high: 'ffffffffffffffff',
    });
    expect(packetIdRange(MS + 0.7, MS + 0.7)).toEqual({
      low: `${MS.toString(16).padStart(12, '0')}0000`,
      high: `${MS.toString(16).padStart(12, '0')}ffff`,
    });
  });
});
