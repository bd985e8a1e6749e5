import { ipv4ToUint32 } from '../../protocol/address.js';
import type { EidPrefixEntry, Locator } from './mappings.js';
import type { PathPreference, TierCandidate } from './path-preference.js';
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
    return this.matches(instanceId, eid)[0];
  }

  /** Every entry covering the EID, longest prefix first. */
  matches(instanceId: number, eid: string): MapCacheHit[] {
    if (instanceId !== this.instanceId) return [];
    const address = ipv4ToUint32(eid);
    return this.entries.filter((hit) => prefixContains(hit.prefix, address));
  }
}

/**
 * An entry whose locators are all unreachable. Like a route whose next hop
 * is gone, it stops shadowing less specific entries: reachability is a
 * passing state, unlike priority 255 or an empty locator set, which are
 * the mapping's own word ("do not use", "nowhere") and stay final.
 */
export function everyLocatorDown(entry: EidPrefixEntry): boolean {
  return entry.locators.length > 0 && entry.locators.every((locator) => !locator.reachable);
}

export interface Resolution {
  /** The entry routing uses: the longest match that is not wholly down. */
  hit?: MapCacheHit;
  /** Its locator for this flow; undefined when the entry has none usable. */
  choice?: LocatorChoice;
  /** Longer matches passed over because every locator in them is down. */
  passedOver: MapCacheHit[];
}

/**
 * Longest-prefix match that falls back past entries whose every locator is
 * down, as a router ignores a route whose next hop is unreachable and uses
 * the next covering one; then RLOC selection in the entry it lands on.
 */
export function resolveEid(
  cache: MapCache,
  instanceId: number,
  eid: string,
  hash: number,
  prefer?: TierPreference,
): Resolution {
  const passedOver: MapCacheHit[] = [];
  for (const hit of cache.matches(instanceId, eid)) {
    if (everyLocatorDown(hit.entry)) {
      passedOver.push(hit);
      continue;
    }
    const choice = selectLocator(hit.entry.locators, hash, prefer);
    return choice ? { hit, choice, passedOver } : { hit, passedOver };
  }
  return { passedOver };
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

/** Narrows the best-priority tier before the weight split (Tango path preference). */
export type TierPreference = (tier: readonly TierCandidate[]) => PathPreference | undefined;

/**
 * RLOC selection: drop priority 255 and unreachable locators, keep the best
 * (lowest) priority, let `prefer` narrow that tier (measured paths), then
 * split by weight using the flow hash so a flow always lands on the same RLOC.
 * All-zero weights split evenly.
 */
export function selectLocator(
  locators: readonly Locator[],
  hash: number,
  prefer?: TierPreference,
): LocatorChoice | undefined {
  const usable = locators
    .map((locator, index) => ({ locator, index }))
    .filter(({ locator }) => locator.priority < 255 && locator.reachable);
  if (usable.length === 0) return undefined;
  const best = Math.min(...usable.map(({ locator }) => locator.priority));
  let tier = usable.filter(({ locator }) => locator.priority === best);
  const preference = prefer?.(tier);
  const keep = preference?.keep;
  const narrowed = keep ? tier.filter(({ index }) => keep.has(index)) : tier;
  if (narrowed.length > 0) tier = narrowed;
  if (keep && tier.length === 1) return { ...tier[0]!, reason: preference.reason };
  const note = preference ? ` (${preference.reason})` : '';
  const total = tier.reduce((sum, { locator }) => sum + locator.weight, 0);
  if (total === 0) {
    const pick = tier[hash % tier.length]!;
    return {
      ...pick,
      reason: `priority ${best}, ${tier.length} locator(s) with zero weight: even split${note}`,
    };
  }
  let point = hash % total;
  for (const candidate of tier) {
    if (point < candidate.locator.weight) {
      return {
        ...candidate,
        reason: `priority ${best}, weight ${candidate.locator.weight}/${total}${note}`,
      };
    }
    point -= candidate.locator.weight;
  }
  /* c8 ignore next */
  throw new Error('unreachable: weights exhausted');
}
