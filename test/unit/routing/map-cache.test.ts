import { describe, expect, it } from 'vitest';
import { flowHash } from '../../../functions/routing/flow-hash.js';
import { MapCache, resolveEid, selectLocator } from '../../../functions/routing/map-cache.js';
import {
  DEFAULT_MAPPINGS,
  type EidPrefixEntry,
  type Locator,
} from '../../../functions/routing/mappings.js';
import { IPPROTO_UDP } from '../../../protocol/ip-protocols.js';

const loc = (rloc: string, priority: number, weight: number, reachable = true): Locator => ({
  rloc,
  priority,
  weight,
  reachable,
});

/** `count` distinct flow hashes: one flow per inner source port. */
const hashes = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    flowHash({
      src: '10.0.0.1',
      dst: '10.1.0.100',
      protocol: IPPROTO_UDP,
      srcPort: 1024 + i,
      dstPort: 8080,
    }),
  );

describe('MapCache', () => {
  const cache = new MapCache(1, DEFAULT_MAPPINGS.eid_prefixes);

  it('prefers the longest matching prefix', () => {
    expect(cache.lookup(1, '10.1.0.100')?.prefix.text).toBe('10.1.0.100/32');
    expect(cache.lookup(1, '10.1.0.200')?.prefix.text).toBe('10.1.0.200/32');
    expect(cache.lookup(1, '10.1.0.101')?.prefix.text).toBe('10.1.0.0/16');
    expect(cache.lookup(1, '10.1.255.255')?.prefix.text).toBe('10.1.0.0/16');
    expect(cache.lookup(1, '10.3.7.7')?.entry.locators).toHaveLength(2);
  });

  it('is independent of the order prefixes are listed in', () => {
    const reversed = new MapCache(1, [...DEFAULT_MAPPINGS.eid_prefixes].reverse());
    expect(reversed.lookup(1, '10.1.0.100')?.prefix.text).toBe('10.1.0.100/32');
  });

  it('matches only within its own instance ID', () => {
    expect(cache.lookup(2, '10.1.0.100')).toBeUndefined();
    expect(cache.lookup(0, '10.4.0.101')).toBeUndefined();
    expect(new MapCache(7, DEFAULT_MAPPINGS.eid_prefixes).lookup(7, '10.4.0.101')).toBeDefined();
  });

  it('returns undefined when no prefix covers the EID', () => {
    expect(cache.lookup(1, '10.5.0.1')).toBeUndefined();
    expect(cache.lookup(1, '192.168.1.100')).toBeUndefined();
    expect(cache.lookup(1, '9.255.255.255')).toBeUndefined();
  });

  it('uses a /0 default entry only when nothing longer matches', () => {
    const c = new MapCache(1, [
      { prefix: '0.0.0.0/0', description: '', ttl_minutes: 1, locators: [] },
      ...DEFAULT_MAPPINGS.eid_prefixes,
    ]);
    expect(c.lookup(1, '172.16.0.1')?.prefix.text).toBe('0.0.0.0/0');
    expect(c.lookup(1, '10.2.0.9')?.prefix.text).toBe('10.2.0.0/16');
  });
});

describe('selectLocator', () => {
  it('never uses priority 255, even as the only locator', () => {
    expect(selectLocator([loc('192.0.2.1', 255, 100)], 0)).toBeUndefined();
    for (const h of hashes(50)) {
      const choice = selectLocator([loc('192.0.2.1', 255, 100), loc('192.0.2.2', 254, 1)], h);
      expect(choice?.locator.rloc).toBe('192.0.2.2');
    }
  });

  it('returns undefined when every locator is unreachable', () => {
    expect(selectLocator([loc('192.0.2.1', 1, 50, false), loc('192.0.2.2', 2, 50, false)], 3)).toBe(
      undefined,
    );
    expect(selectLocator([], 3)).toBeUndefined();
  });

  it('skips unreachable locators and falls back to the next priority', () => {
    const set = [
      loc('192.0.2.1', 1, 100, false),
      loc('192.0.2.2', 2, 100),
      loc('192.0.2.3', 3, 100),
    ];
    for (const h of hashes(50)) {
      const choice = selectLocator(set, h);
      expect(choice?.locator.rloc).toBe('192.0.2.2');
      expect(choice?.index).toBe(1);
      expect(choice?.reason).toMatch(/^priority 2, weight 100\/100/);
    }
  });

  it('picks the lowest priority regardless of weight or position', () => {
    const set = [loc('192.0.2.1', 5, 255), loc('192.0.2.2', 0, 1), loc('192.0.2.3', 1, 255)];
    for (const h of hashes(50)) expect(selectLocator(set, h)?.locator.rloc).toBe('192.0.2.2');
  });

  it('splits flows 30/70 by weight within 3 percentage points', () => {
    const set = [loc('192.0.2.1', 1, 30), loc('192.0.2.2', 1, 70)];
    const all = hashes(10_000);
    expect(new Set(all).size).toBe(10_000);
    let first = 0;
    for (const h of all) if (selectLocator(set, h)?.index === 0) first++;
    expect(first / all.length).toBeGreaterThanOrEqual(0.27);
    expect(first / all.length).toBeLessThanOrEqual(0.33);
  });

  it('spreads all-zero weights evenly', () => {
    const set = [loc('192.0.2.1', 1, 0), loc('192.0.2.2', 1, 0), loc('192.0.2.3', 1, 0)];
    const counts = [0, 0, 0];
    const all = hashes(9_000);
    for (const h of all) {
      const choice = selectLocator(set, h);
      expect(choice?.reason).toMatch(/zero weight: even split/);
      counts[choice!.index]!++;
    }
    for (const n of counts) expect(Math.abs(n / all.length - 1 / 3)).toBeLessThanOrEqual(0.03);
  });

  it('ignores a zero-weight locator when its tier has positive weights', () => {
    const set = [loc('192.0.2.1', 1, 0), loc('192.0.2.2', 1, 10)];
    for (const h of hashes(200)) expect(selectLocator(set, h)?.index).toBe(1);
  });

  it('is stable: the same hash always lands on the same locator', () => {
    const set = [loc('192.0.2.1', 1, 20), loc('192.0.2.2', 1, 20), loc('192.0.2.3', 1, 60)];
    for (const h of hashes(500)) {
      const first = selectLocator(set, h);
      for (let i = 0; i < 3; i++) expect(selectLocator(set, h)).toEqual(first);
    }
  });
});

describe('resolveEid', () => {
  const entry = (prefix: string, locators: Locator[]): EidPrefixEntry => ({
    prefix,
    description: '',
    ttl_minutes: 1,
    locators,
  });
  const [hash] = hashes(1) as [number];
  const resolve = (entries: EidPrefixEntry[], eid = '10.4.0.100') =>
    resolveEid(new MapCache(1, entries), 1, eid, hash);
  const aggregate = entry('10.4.0.0/16', [loc('127.0.0.1', 1, 100)]);

  it('uses the longest match while any of its locators is reachable', () => {
    const site = entry('10.4.0.0/24', [loc('192.0.2.50', 1, 100, false), loc('192.0.2.51', 2, 1)]);
    const r = resolve([aggregate, site]);
    expect(r.hit?.prefix.text).toBe('10.4.0.0/24');
    expect(r.choice?.locator.rloc).toBe('192.0.2.51');
    expect(r.passedOver).toEqual([]);
  });

  it('falls back past entries whose every locator is down, longest first', () => {
    const host = entry('10.4.0.100/32', [loc('192.0.2.60', 1, 100, false)]);
    const site = entry('10.4.0.0/24', [loc('192.0.2.50', 1, 100, false)]);
    const r = resolve([host, aggregate, site]);
    expect(r.hit?.prefix.text).toBe('10.4.0.0/16');
    expect(r.choice?.locator.rloc).toBe('127.0.0.1');
    expect(r.passedOver.map((h) => h.prefix.text)).toEqual(['10.4.0.100/32', '10.4.0.0/24']);
    // Another EID of the /16 never looks at the /24.
    expect(resolve([host, aggregate, site], '10.4.9.9').passedOver).toEqual([]);
  });

  it('treats priority 255 and an empty locator set as final: no fallback', () => {
    const never = resolve([aggregate, entry('10.4.0.0/24', [loc('192.0.2.50', 255, 100)])]);
    expect(never.hit?.prefix.text).toBe('10.4.0.0/24');
    expect(never.choice).toBeUndefined();
    const nowhere = resolve([aggregate, entry('10.4.0.0/24', [])]);
    expect(nowhere.hit?.prefix.text).toBe('10.4.0.0/24');
    expect(nowhere.choice).toBeUndefined();
  });

  it('finds nothing when every covering entry is down', () => {
    const down = entry('10.4.0.0/16', [loc('127.0.0.1', 1, 100, false)]);
    const r = resolve([down, entry('10.4.0.0/24', [loc('192.0.2.50', 1, 100, false)])]);
    expect(r.hit).toBeUndefined();
    expect(r.passedOver.map((h) => h.prefix.text)).toEqual(['10.4.0.0/24', '10.4.0.0/16']);
  });
});

describe('mapCacheFor', () => {
  it('compiles a prefix list once and recompiles for another instance ID', async () => {
    const { mapCacheFor } = await import('../../../functions/routing/map-cache.js');
    const first = mapCacheFor(1, DEFAULT_MAPPINGS.eid_prefixes);
    expect(mapCacheFor(1, DEFAULT_MAPPINGS.eid_prefixes)).toBe(first);
    const other = mapCacheFor(2, DEFAULT_MAPPINGS.eid_prefixes);
    expect(other).not.toBe(first);
    expect(other.lookup(2, '10.1.0.100')?.prefix.text).toBe('10.1.0.100/32');
    expect(mapCacheFor(1, [...DEFAULT_MAPPINGS.eid_prefixes])).not.toBe(first);
  });
});
