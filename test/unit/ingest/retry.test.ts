import { describe, expect, it } from 'vitest';
import { isRetryable, storeRefusal } from '../../../functions/ingest/ingest.js';
import { StoreUnavailableError } from '../../../functions/store/errors.js';

const wrapped = (cause: unknown) => new StoreUnavailableError('store flow failed', { cause });

describe('which ingest failures are retried', () => {
  it('retries outages and network errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    expect(isRetryable(wrapped(refused))).toBe(true);
    expect(isRetryable(refused)).toBe(true);
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    expect(isRetryable(wrapped(throttled))).toBe(true);
    expect(storeRefusal(wrapped(throttled))).toBeUndefined();
  });

  it('does not retry a message the store refuses, and says why in one line', () => {
    const invalid = Object.assign(new Error('Number underflow.\nAttempting to store'), {
      name: 'ValidationException',
    });
    expect(isRetryable(wrapped(invalid))).toBe(false);
    expect(storeRefusal(wrapped(invalid))).toBe(
      'ValidationException: Number underflow. Attempting to store',
    );
  });

  it('does not retry plain bugs', () => {
    expect(isRetryable(new TypeError('x is undefined'))).toBe(false);
    expect(storeRefusal(new TypeError('x'))).toBeUndefined();
  });
});
