import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  formatRelative,
  formatTime,
} from '../../../web/src/format.js';

const L = 'en-US';

describe('console number formats', () => {
  it('formats bytes in binary units, exact below 1 KiB', () => {
    expect(formatBytes(0, L)).toBe('0 B');
    expect(formatBytes(329, L)).toBe('329 B');
    expect(formatBytes(1023, L)).toBe('1,023 B');
    expect(formatBytes(1536, L)).toBe('1.5 KiB');
    expect(formatBytes(20_578, L)).toBe('20.1 KiB');
    expect(formatBytes(5 * 1024 ** 3, L)).toBe('5 GiB');
    expect(formatBytes(Number.NaN, L)).toBe('–');
  });

  it('groups counts', () => {
    expect(formatCount(100_000, L)).toBe('100,000');
    expect(formatCount(337.555, L)).toBe('337.56');
  });

  it('formats rates with SI prefixes', () => {
    expect(formatRate(1234.5, 'pkt', L)).toBe('1.23 kpkt/s');
    expect(formatRate(9.5e6, 'bit', L)).toBe('9.5 Mbit/s');
    expect(formatRate(12, 'pkt', L)).toBe('12 pkt/s');
    expect(formatRate(0.5, '', L)).toBe('0.5/s');
  });

  it('formats durations from milliseconds to days', () => {
    expect(formatDuration(0.35, L)).toBe('350 ms');
    expect(formatDuration(12.34, L)).toBe('12.3 s');
    expect(formatDuration(245, L)).toBe('4 m 05 s');
    expect(formatDuration(7380, L)).toBe('2 h 03 m');
    expect(formatDuration(3 * 86_400 + 4 * 3600, L)).toBe('3 d 04 h');
    expect(formatDuration(-1, L)).toBe('–');
  });
});

describe('console times', () => {
  const saved = process.env.TZ;
  beforeEach(() => {
    process.env.TZ = 'Europe/Berlin';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('shows local time, with UTC and the offset in the title', () => {
    const t = formatTime(Date.UTC(2026, 0, 5, 13, 3, 5, 123), { ms: true });
    expect(t.text).toBe('2026-01-05 14:03:05.123');
    expect(t.title).toBe('2026-01-05 13:03:05.123 UTC (local UTC+01:00)');
    expect(t.iso).toBe('2026-01-05T13:03:05.123Z');
    expect(formatTime(Date.UTC(2026, 6, 1, 0, 0, 0)).text).toBe('2026-07-01 02:00:00');
    expect(formatTime(Number.NaN).text).toBe('–');
  });

  it('says how long ago, or how long until', () => {
    const now = Date.UTC(2026, 0, 5, 12, 0, 0);
    expect(formatRelative(now - 2000, now)).toBe('just now');
    expect(formatRelative(now - 42_000, now)).toBe('42 s ago');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe('3 h ago');
    expect(formatRelative(now - 2 * 86_400_000, now)).toBe('2 d ago');
    expect(formatRelative(now + 5 * 60_000, now)).toBe('in 5 min');
  });
});
