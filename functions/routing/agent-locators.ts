import { isIPv4 } from '../../protocol/address.js';
import type { EidPrefixEntry, Locator, Mappings } from './mappings.js';
import { type Ipv4Prefix, parseIpv4Prefix } from './prefix.js';

/**
 * What one agent's latest heartbeat says about routing, and whether the agent
 * is alive now. Agents that never sent a heartbeat announce nothing.
 */
export interface AgentAnnouncement {
  agentId: string;
  online: boolean;
  rlocs: readonly { address: string; priority: number; weight: number }[];
  eidPrefixes: readonly string[];
}

/**
 * Map-cache TTL of entries learnt from heartbeats: they are only as good as
 * the latest heartbeat, so they are not meant to be cached for long.
 */
export const AGENT_ENTRY_TTL_MINUTES = 1;
/** As in mappingsSchema: at most 32 locators per EID prefix. */
const MAX_LOCATORS = 32;
/** At most this many prefixes learnt from agents per tenant: a bound on what heartbeats can add. */
export const MAX_LEARNT_PREFIXES = 1024;
/** Announced prefixes shorter than this are ignored. */
export const MIN_LEARNT_PREFIX_LENGTH = 8;

/** RLOC address → alive; an RLOC announced by several agents is alive if any of them is. */
export function rlocLiveness(agents: readonly AgentAnnouncement[]): Map<string, boolean> {
  const alive = new Map<string, boolean>();
  for (const agent of agents) {
    for (const { address } of agent.rlocs) {
      alive.set(address, (alive.get(address) ?? false) || agent.online);
    }
  }
  return alive;
}

/**
 * The tenant's mappings as the ITR should use them right now:
 *
 * - every locator (in eid_prefixes and source_locators) whose address an agent
 *   announces as one of its RLOCs is reachable exactly when that agent is
 *   online, so a dead site is never chosen and its LSB bit is cleared;
 * - each EID prefix an agent announces becomes a map-cache entry whose
 *   locators are that agent's (IPv4) RLOCs; agents announcing the same prefix
 *   share one entry. A prefix the mappings list already is left as configured:
 *   explicit mappings win.
 *
 * Returns the same object when agents change nothing, so the compiled
 * map-cache (keyed by the prefix array) is reused.
 */
export function mergeAgentLocators(
  mappings: Mappings,
  agents: readonly AgentAnnouncement[],
): Mappings {
  if (agents.length === 0) return mappings;
  const alive = rlocLiveness(agents);
  const withLiveness = <L extends { rloc: string; reachable: boolean }>(locator: L): L => {
    const up = alive.get(locator.rloc);
    return up === undefined || up === locator.reachable ? locator : { ...locator, reachable: up };
  };
  const configured = mappings.eid_prefixes.map((entry) => {
    const locators = entry.locators.map(withLiveness);
    return sameItems(locators, entry.locators) ? entry : { ...entry, locators };
  });
  const sourceLocators = mappings.source_locators.map(withLiveness);
  const changed =
    !sameItems(configured, mappings.eid_prefixes) ||
    !sameItems(sourceLocators, mappings.source_locators);

  // The tenant's own prefix wins over the same prefix announced by an agent. A
  // more specific announcement inside a configured aggregate goes to the agent,
  // as a site registration does in LISP; very broad ones (shorter than /8) are
  // ignored, so one agent cannot claim everything the mappings leave out.
  const taken = new Set(
    mappings.eid_prefixes.flatMap((entry) => {
      const prefix = parsePrefix(entry.prefix);
      return prefix ? [`${prefix.network}/${prefix.length}`] : [];
    }),
  );
  const learnt = new Map<string, { entry: EidPrefixEntry; agents: string[] }>();
  for (const agent of [...agents].sort((a, b) => (a.agentId < b.agentId ? -1 : 1))) {
    const locators: Locator[] = agent.rlocs
      .filter((r) => isIPv4(r.address))
      .map((r) => ({
        rloc: r.address,
        priority: r.priority,
        weight: r.weight,
        reachable: alive.get(r.address) ?? agent.online,
      }));
    if (locators.length === 0) continue;
    for (const text of agent.eidPrefixes) {
      const prefix = parsePrefix(text);
      if (prefix === undefined || prefix.length < MIN_LEARNT_PREFIX_LENGTH) continue;
      const key = `${prefix.network}/${prefix.length}`;
      if (taken.has(key)) continue;
      let slot = learnt.get(key);
      if (!slot) {
        if (learnt.size >= MAX_LEARNT_PREFIXES) continue;
        slot = {
          entry: {
            prefix: text,
            description: '',
            ttl_minutes: AGENT_ENTRY_TTL_MINUTES,
            locators: [],
          },
          agents: [],
        };
        learnt.set(key, slot);
      }
      if (!slot.agents.includes(agent.agentId)) slot.agents.push(agent.agentId);
      for (const locator of locators) {
        const known = slot.entry.locators.some((l) => l.rloc === locator.rloc);
        if (!known && slot.entry.locators.length < MAX_LOCATORS) slot.entry.locators.push(locator);
      }
    }
  }
  if (!changed && learnt.size === 0) return mappings;
  const added = [...learnt.values()].map(({ entry, agents: ids }) => ({
    ...entry,
    description: `announced by agent ${ids.join(', ')}`.slice(0, 200),
  }));
  return { ...mappings, eid_prefixes: [...configured, ...added], source_locators: sourceLocators };
}

const sameItems = <T>(a: readonly T[], b: readonly T[]) => a.every((item, i) => item === b[i]);

/** "network/length" for a valid prefix; undefined for anything a heartbeat should not have sent. */
function parsePrefix(text: string): Ipv4Prefix | undefined {
  try {
    return parseIpv4Prefix(text);
  } catch {
    return undefined;
  }
}
