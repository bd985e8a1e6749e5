import { describe, expect, it } from 'vitest';
import { type PathMeasurement, Steering } from '../../../../agent/tango/steering.js';

const m = (pathId: number, delayMs: number, loss = 0, packets = 100): PathMeasurement => ({
  pathId,
  delayMs,
  loss,
  packets,
});

describe('Steering', () => {
  const fast = { classId: 1, maxDelayMs: 30, goal: 'delay' as const };
  const bulk = { classId: 2, maxLoss: 0.02, goal: 'loss' as const };

  it('keeps a class on its path while the path meets its constraints', () => {
    const s = new Steering([fast]);
    const paths = [0, 0];
    for (let i = 0; i < 5; i++) {
      expect(s.evaluate([m(0, 25), m(1, 5)], paths)).toEqual([]);
    }
  });

  it('moves a class after two intervals in breach, to the lowest-delay path, and says why', () => {
    const s = new Steering([fast]);
    const paths = [0, 0];
    expect(s.evaluate([m(0, 45), m(1, 12), m(2, 8, 0.5)], paths)).toEqual([]);
    const [move] = s.evaluate([m(0, 50), m(1, 12), m(2, 8, 0.5)], paths);
    // Path 2 is faster but fast_response has no loss bound: it wins on delay.
    expect(move).toMatchObject({ classId: 1, from: 0, to: 2 });
    expect(move!.reason).toBe(
      'path 0: delay 50.0 ms over 30 ms for 2 intervals; path 2: 8.0 ms, loss 50.0 %',
    );
  });

  it('one bad interval between good ones moves nothing', () => {
    const s = new Steering([fast]);
    const paths = [0, 0];
    expect(s.evaluate([m(0, 80), m(1, 5)], paths)).toEqual([]);
    expect(s.evaluate([m(0, 20), m(1, 5)], paths)).toEqual([]);
    expect(s.evaluate([m(0, 80), m(1, 5)], paths)).toEqual([]);
  });

  it('moves a bulk class off a lossy path to the least lossy one', () => {
    const s = new Steering([bulk], { breachIntervals: 1 });
    const paths = [0, 0, 0];
    const [move] = s.evaluate([m(0, 5, 0.1), m(1, 40, 0), m(2, 10, 0.015)], paths);
    expect(move).toMatchObject({ classId: 2, from: 0, to: 1 });
  });

  it('never picks a path with no packets, and counts a silent current path as a breach', () => {
    const s = new Steering([fast], { breachIntervals: 1 });
    expect(s.evaluate([m(0, 1, 0, 0), m(1, 20)], [0, 1])).toEqual([]);
    const [move] = s.evaluate([m(0, 0, 0, 0), m(1, 20)], [0, 0]);
    expect(move).toMatchObject({ from: 0, to: 1 });
    expect(move!.reason).toMatch(/^path 0: no measurements/);
  });

  it('when every path breaks the constraint, moves only to one better by the margin', () => {
    const s = new Steering([fast], { breachIntervals: 1, delayMarginMs: 5 });
    expect(s.evaluate([m(0, 50), m(1, 47)], [0, 0])).toEqual([]);
    expect(s.evaluate([m(0, 50), m(1, 44)], [0, 0])).toMatchObject([{ to: 1 }]);
  });
});
