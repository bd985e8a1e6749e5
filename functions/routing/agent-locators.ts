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
  /** Seconds since the agent's latest heartbeat arrived (server clock). */
  silentSec: number;
  /** The heartbeat interval the agent promised in that heartbeat. */
  intervalSec: number;
  rlocs: readonly { address: string; priority: number; weight: number }[];
  eidPrefixes: readonly string[];
}

/**
 * A site registration lasts this many announced heartbeat intervals without a
 * heartbeat, as a LISP Map-Server times out an ETR that stopped sending its
 * periodic Map-Registers (sent every minute, dropped after three)...
 */
export const REGISTRATION_HOLD_INTERVALS = 3;
/** ...but never less than this: an agent beating every second must not flap on one slow reconnect... */
export const MIN_REGISTRATION_HOLD_SEC = 30;
/** ...nor more than this: an agent promising hourly heartbeats must not hold a dead site's prefix for hours. */
export const MAX_REGISTRATION_HOLD_SEC = 600;

/** How long an agent's announced prefixes outlive its latest heartbeat. */
export function registrationHoldSec(intervalSec: number): number {
  return Math.min(
    Math.max(REGISTRATION_HOLD_INTERVALS * intervalSec, MIN_REGISTRATION_HOLD_SEC),
    MAX_REGISTRATION_HOLD_SEC,
  );
}

/** A prefix no agent holds any more: its registrations expired. */
export interface WithdrawnPrefix {
  prefix: Ipv4Prefix;
  agents: { agentId: string; silentSec: number; holdSec: number }[];
}

/** What routing should know about the agents' registrations, to explain itself. */
export interface Registrations {
  /** Learnt prefix (as announced) → the agents holding it. */
  learnt: ReadonlyMap<string, readonly string[]>;
  withdrawn: readonly WithdrawnPrefix[];
}

/** The mappings routing uses, and the registrations behind what agents added. */
export interface AgentRouting {
  mappings: Mappings;
  registrations: Registrations;
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

const NO_REGISTRATIONS: Registrations = { learnt: new Map(), withdrawn: [] };

/**
 * The tenant's mappings as the ITR should use them right now:
 *
 * - every locator (in eid_prefixes and source_locators) whose address an agent
 *   announces as one of its RLOCs is reachable exactly when that agent is
 *   online, so a dead site is never chosen and its LSB bit is cleared;
 * - each EID prefix an agent announces becomes a map-cache entry whose
 *   locators are that agent's (IPv4) RLOCs; agents announcing the same prefix
 *   share one entry. A prefix the mappings list already is left as configured:
 *   explicit mappings win;
 * - an agent silent for longer than its hold time (registrationHoldSec) no
 *   longer holds its prefixes: they are withdrawn, so a configured covering
 *   entry takes over again, and the withdrawal is reported for the reasons.
 *
 * Returns the same mappings object when agents change nothing, so the
 * compiled map-cache (keyed by the prefix array) is reused.
 */
export function mergeAgentLocators(
  mappings: Mappings,
  agents: readonly AgentAnnouncement[],
): AgentRouting {
  if (agents.length === 0) return { mappings, registrations: NO_REGISTRATIONS };
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
      return prefix ? [prefixKey(prefix)] : [];
    }),
  );
  const byId = [...agents].sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
  const held = byId.filter(isHeld);
  const learnt = new Map<string, { entry: EidPrefixEntry; agents: string[] }>();
  for (const agent of held) {
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
      const prefix = registrable(text, taken);
      if (prefix === undefined) continue;
      const key = prefixKey(prefix);
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
  const registrations: Registrations = {
    learnt: new Map([...learnt.values()].map(({ entry, agents: ids }) => [entry.prefix, ids])),
    withdrawn: withdrawnPrefixes(
      byId.filter((agent) => !isHeld(agent)),
      taken,
      new Set(learnt.keys()),
    ),
  };
  if (!changed && learnt.size === 0) return { mappings, registrations };
  const added = [...learnt.values()].map(({ entry, agents: ids }) => ({
    ...entry,
    description: `announced by agent ${ids.join(', ')}`.slice(0, 200),
  }));
  return {
    mappings: {
      ...mappings,
      eid_prefixes: [...configured, ...added],
      source_locators: sourceLocators,
    },
    registrations,
  };
}

/** Whether the agent's registration still stands (NaN silence counts as expired). */
const isHeld = (agent: AgentAnnouncement) =>
  agent.silentSec <= registrationHoldSec(agent.intervalSec);

/**
 * The prefixes of expired registrations that no agent still holds (one
 * still holding a prefix keeps it: only the silent agent's locators left it).
 */
function withdrawnPrefixes(
  expired: readonly AgentAnnouncement[],
  configured: ReadonlySet<string>,
  held: ReadonlySet<string>,
): WithdrawnPrefix[] {
  const withdrawn = new Map<string, WithdrawnPrefix>();
  for (const agent of expired) {
    const holdSec = registrationHoldSec(agent.intervalSec);
    for (const text of agent.eidPrefixes) {
      const prefix = registrable(text, configured);
      if (prefix === undefined || held.has(prefixKey(prefix))) continue;
      let slot = withdrawn.get(prefixKey(prefix));
      if (!slot) {
        if (withdrawn.size >= MAX_LEARNT_PREFIXES) continue;
        slot = { prefix, agents: [] };
        withdrawn.set(prefixKey(prefix), slot);
      }
      if (slot.agents.some((a) => a.agentId === agent.agentId)) continue;
      slot.agents.push({ agentId: agent.agentId, silentSec: Math.floor(agent.silentSec), holdSec });
    }
  }
  return [...withdrawn.values()];
}

const prefixKey = (prefix: Ipv4Prefix) => `${prefix.network}/${prefix.length}`;

/** An announced prefix an agent may register: valid, /8 or longer, and not one the mappings configure. */
function registrable(text: string, configured: ReadonlySet<string>): Ipv4Prefix | undefined {
  const prefix = parsePrefix(text);
  if (prefix === undefined || prefix.length < MIN_LEARNT_PREFIX_LENGTH) return undefined;
  return configured.has(prefixKey(prefix)) ? undefined : prefix;
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
