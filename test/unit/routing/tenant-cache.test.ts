import { describe, expect, it } from 'vitest';
import { TenantCache } from '../../../functions/routing/tenant-cache.js';

describe('TenantCache', () => {
  it('shares one read between concurrent callers and re-reads past the TTL', async () => {
    let clock = 0;
    let reads = 0;
    const cache = new TenantCache(
      async (t) => `${t}:${++reads}`,
      1000,
      () => clock,
    );
    expect(await Promise.all([cache.get('a'), cache.get('a')])).toEqual(['a:1', 'a:1']);
    clock = 999;
    expect(await cache.get('a')).toBe('a:1');
    clock = 1000;
    expect(await cache.get('a')).toBe('a:2');
    expect(await cache.get('b')).toBe('b:3');
  });

  it('serves the last value when a refresh fails, and rejects when there is none', async () => {
    let clock = 0;
    let fail = false;
    const cache = new TenantCache(
      async () => {
        if (fail) throw new Error('store down');
        return clock;
      },
      1000,
      () => clock,
    );
    expect(await cache.get('a')).toBe(0);
    fail = true;
    clock = 5000;
    expect(await cache.get('a')).toBe(0);
    await expect(cache.get('b')).rejects.toThrow('store down');
    fail = false;
    // The failed refresh left the entry expired: the next call reads again.
    expect(await cache.get('a')).toBe(5000);
    expect(await cache.get('b')).toBe(5000);
  });

  it('forgets a tenant on invalidate', async () => {
    let reads = 0;
    const cache = new TenantCache(
      async () => ++reads,
      60_000,
      () => 0,
    );
    await cache.get('a');
    cache.invalidate('a');
    expect(await cache.get('a')).toBe(2);
    cache.invalidate();
    expect(await cache.get('a')).toBe(3);
  });
});
