import { describe, expect, it } from 'vitest';
import {
  describePeer,
  describeRejects,
  formatFraction,
  formatMs,
} from '../../../../web/src/pages/agents/paths-logic.js';

describe('paths panel formatting', () => {
  it('formats delays with fewer digits as they grow', () => {
    expect(formatMs(0.04, 'en')).toBe('0.04 ms');
    expect(formatMs(12.44, 'en')).toBe('12.4 ms');
    expect(formatMs(1234.5, 'en')).toBe('1,235 ms');
    expect(formatMs(Number.NaN, 'en')).toBe('–');
  });

  it('shows fractions as percentages', () => {
    expect(formatFraction(0, 'en')).toBe('0 %');
    expect(formatFraction(0.05, 'en')).toBe('5 %');
    expect(formatFraction(0.1234, 'en')).toBe('12 %');
    expect(formatFraction(0.0123, 'en')).toBe('1.2 %');
    expect(formatFraction(0.00123, 'en')).toBe('0.12 %');
    expect(formatFraction(0.00012, 'en')).toBe('0.012 %');
  });

  it('sums refused frames and lists the reasons, most first', () => {
    expect(describeRejects(undefined)).toEqual({ total: 0, text: '' });
    expect(describeRejects({ replay: 1, bad_signature: 3, stale: 0 })).toEqual({
      total: 4,
      text: 'bad_signature 3, replay 1',
    });
  });

  it('names the peer as the report does', () => {
    expect(describePeer(null)).toBeUndefined();
    expect(describePeer({})).toBeUndefined();
    expect(describePeer({ agent_id: 'site-b' })).toBe('site-b');
    expect(describePeer({ name: 'site B', agent_id: 'site-b' })).toBe('site B (site-b)');
  });
});
