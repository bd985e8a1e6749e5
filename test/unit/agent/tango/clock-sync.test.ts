import { describe, expect, it } from 'vitest';
import { ClockFilter, sampleOffset } from '../../../../agent/tango/clock-sync.js';

describe('clock offset (NTP on-wire method)', () => {
  it('recovers the offset exactly when the two ways are equally fast', () => {
    // Peer clock 250 ms ahead; 10 ms each way; the peer takes 1 ms to answer.
    const t1 = 1000;
    const s = { t1, t2: t1 + 10 + 250, t3: t1 + 11 + 250, t4: t1 + 21 };
    expect(sampleOffset(s)).toEqual({ offsetMs: 250, rttMs: 20 });
  });

  it('is off by half the difference between the two ways', () => {
    // 30 ms out, 10 ms back, clocks equal: the estimate is 10 ms, half of 30 - 10.
    const s = { t1: 0, t2: 30, t3: 30, t4: 40 };
    expect(sampleOffset(s)).toEqual({ offsetMs: 10, rttMs: 40 });
  });

  it('keeps the sample with the lowest round trip of the last 16', () => {
    const f = new ClockFilter(16);
    expect(f.estimate()).toBeUndefined();
    // Queueing delays the answer of most probes; one crosses an idle path.
    f.push({ t1: 0, t2: 60, t3: 60, t4: 70 }); // 50 out, 10 back: offset 25
    f.push({ t1: 100, t2: 205, t3: 205, t4: 110 }); // 5 out, 5 back, peer +100: offset 100
    f.push({ t1: 200, t2: 330, t3: 330, t4: 240 }); // 30 out, 10 back, peer +100: offset 110
    expect(f.estimate()).toEqual({ offsetMs: 100, rttMs: 10, samples: 3 });
    for (let i = 0; i < 16; i++) f.push({ t1: 0, t2: 112, t3: 112, t4: 20 });
    // The good sample has aged out of the window.
    expect(f.estimate()).toEqual({ offsetMs: 102, rttMs: 20, samples: 16 });
  });

  it('ignores impossible samples (negative round trip, non-numbers)', () => {
    const f = new ClockFilter();
    f.push({ t1: 10, t2: 0, t3: 50, t4: 11 });
    f.push({ t1: Number.NaN, t2: 0, t3: 0, t4: 0 });
    expect(f.estimate()).toBeUndefined();
  });
});
