import { describe, expect, it } from 'vitest';
import { windowRequestLimitsFromEnv } from '../../../functions/api/deps.js';
import { REQUEST_WINDOW_LIMITS } from '../../../functions/evidence/window-download.js';

describe('windowRequestLimitsFromEnv (WINDOW_REQUEST_MAX_SEGMENTS)', () => {
  it('is 200 segments and 2 GiB unless set', () => {
    expect(windowRequestLimitsFromEnv({})).toEqual({ segments: 200, bytes: 2 * 1024 ** 3 });
    expect(windowRequestLimitsFromEnv({ WINDOW_REQUEST_MAX_SEGMENTS: 'many' })).toEqual(
      REQUEST_WINDOW_LIMITS,
    );
  });

  it('may be lowered to 1, never raised past what one request assembles', () => {
    const segments = (value: string) =>
      windowRequestLimitsFromEnv({ WINDOW_REQUEST_MAX_SEGMENTS: value }).segments;
    expect(segments('3')).toBe(3);
    expect(segments('3.9')).toBe(3);
    expect(segments('0')).toBe(1);
    expect(segments('-5')).toBe(1);
    expect(segments('5000')).toBe(200);
  });
});
