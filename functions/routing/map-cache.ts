import { ipv4ToUint32 } from '../../protocol/address.js';
import type { EidPrefixEntry, Locator } from './mappings.js';
import { type Ipv4Prefix, parseIpv4Prefix, prefixContains } from './prefix.js';

export interface MapCacheHit {
  entry: EidPrefixEntry;
  prefix: Ipv4Prefix;
}

export interface LocatorChoice {
  locator: Locator;
  /** Index of the locator in the entry's locator set. */
  index: number;
  /** Why this one: the best usable priority and how the weight split landed. */
  reason: string;
}

/**
 * An ITR map-cache for one instance ID (RFC 9300 §6, RFC 9301 §5.4):
 * longest-prefix match on the destination EID, scoped by instance ID.
 */
export class MapCache {
  private readonly entries: MapCacheHit[];

  constructor(
    readonly instanceId: number,
    prefixes: readonly EidPrefixEntry[],
  ) {
    this.entries = prefixes
      .map((entry) => ({ entry, prefix: parseIpv4Prefix(entry.prefix) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Longest-prefix match; a lookup in another instance ID never matches. */
  lookup(instanceId: number, eid: string): MapCacheHit | undefined {
    if (instanceId !== this.instanceId) return undefined;
    const address = ipv4ToUint32(eid);
    return this.entries.find((hit) => prefixContains(hit.prefix, address));
  }
}

const compiled = new WeakMap<readonly EidPrefixEntry[], MapCache>();

/** The map-cache for a prefix list, compiled once per (immutable) mappings document. */
export function mapCacheFor(instanceId: number, prefixes: readonly EidPrefixEntry[]): MapCache {
  let cache = compiled.get(prefixes);
  if (!cache || cache.instanceId !== instanceId) {
    cache = new MapCache(instanceId, prefixes);
    compiled.set(prefixes, cache);
  }
  return cache;
}

/**
 * RLOC selection: drop priority 255 and unreachable locators, keep the best
 * (lowest) priority, then split by weight using the flow hash so a flow
 * always lands on the same RLOC. All-zero weights split evenly.
 */
export function selectLocator(
  locators: readonly Locator[],
  hash: number,
): LocatorChoice | undefined {
  const usable = locators
    .map((locator, index) => ({ locator, index }))
    .filter(({ locator }) => locator.priority < 255 && locator.reachable);
  if (usable.length === 0) return undefined;
  const best = Math.min(...usable.map(({ locator }) => locator.priority));
  const tier = usable.filter(({ locator }) => locator.priority === best);
  const total = tier.reduce((sum, { locator }) => sum + locator.weight, 0);
  if (total === 0) {
    const pick = tier[hash % tier.length]!;
    return {
      ...pick,
      reason: `priority ${best}, ${tier.length} locator(s) with zero weight: even split`,
    };
  }
  let point = hash % total;
  for (const candidate of tier) {
    if (point < candidate.locator.weight) {
      return {
        ...candidate,
        reason: `priority ${best}, weight ${candidate.locator.weight}/${total}`,
      };
    }
    point -= candidate.locator.weight;
  }
  /* c8 ignore next */
  throw new Error('unreachable: weights exhausted');
}
