import { describe, expect, it } from 'vitest';
import { Backoff, BackoffOptionsError, nextDelay } from '../../../agent/backoff.js';

const opts = { minMs: 500, maxMs: 30_000 };

describe('nextDelay', () => {
  it('spans [minMs, min(maxMs, minMs * 2^(n+1))] as random goes from 0 to 1', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** (attempt + 1));
      expect(nextDelay(attempt, { ...opts, random: () => 0 })).toBe(500);
      expect(nextDelay(attempt, { ...opts, random: () => 0.999999 })).toBe(
        Math.round(500 + 0.999999 * (ceiling - 500)),
      );
      expect(nextDelay(attempt, { ...opts, random: () => 0.5 })).toBe(
        Math.round(500 + 0.5 * (ceiling - 500)),
      );
    }
  });

  it('grows exponentially until the cap, then stays capped, even for huge attempts', () => {
    const top = (attempt: number) => nextDelay(attempt, { ...opts, random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 6].map(top)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
    expect(top(5000)).toBe(30_000);
    expect(top(Number.MAX_SAFE_INTEGER)).toBe(30_000);
  });

  it('treats negative or non-finite attempts as the first and clamps a bad random', () => {
    expect(nextDelay(-3, { ...opts, random: () => 1 })).toBe(1000);
    expect(nextDelay(Number.NaN, { ...opts, random: () => 1 })).toBe(1000);
    expect(nextDelay(2, { ...opts, random: () => 7 })).toBe(4000);
    expect(nextDelay(2, { ...opts, random: () => -1 })).toBe(500);
  });

  it('stays within bounds for many random draws (jitter actually spreads)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const attempt = i % 10;
      const d = nextDelay(attempt, opts);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(Math.min(30_000, 500 * 2 ** (attempt + 1)));
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(100);
  });

  it('refuses nonsense options with a clear error', () => {
    expect(() => nextDelay(0, { minMs: 0, maxMs: 10 })).toThrow(BackoffOptionsError);
    expect(() => nextDelay(0, { minMs: 100, maxMs: 10 })).toThrow(/maxMs must be at least minMs/);
    expect(() => new Backoff({ minMs: Number.NaN, maxMs: 10 })).toThrow(/minMs/);
  });
});

describe('Backoff', () => {
  it('counts attempts and starts over after reset()', () => {
    const backoff = new Backoff({ minMs: 100, maxMs: 1000, random: () => 1 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([
      200, 400, 800, 1000,
    ]);
    expect(backoff.attempt).toBe(4);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(200);
  });
});
