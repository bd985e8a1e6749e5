import { type AgentAnnouncement, type AgentRouting, mergeAgentLocators } from './agent-locators.js';
import type { Mappings } from './mappings.js';
import { TenantCache } from './tenant-cache.js';

/** Reads a tenant's agents as announcements, with liveness judged at read time. */
export type AnnouncementLoader = (tenant: string) => Promise<AgentAnnouncement[]>;

/**
 * The mappings routing uses: the tenant's configured mappings merged with what
 * its agents announce. Agents are read at most once per TTL per tenant, so
 * /route pays one table query every few seconds, not one per request; the
 * merge is redone only when the agents or the mappings document change.
 * Liveness and registration hold times are judged when the agents are read,
 * so they take effect up to one TTL late.
 */
export class AgentRoutingView {
  static readonly TTL_MS = 5_000;
  private readonly agents: TenantCache<AgentAnnouncement[]>;
  /** The merge of one read of the agents with one mappings document, redone when either changes. */
  private readonly merged = new WeakMap<
    AgentAnnouncement[],
    { mappings: Mappings; routing: AgentRouting }
  >();

  constructor(load: AnnouncementLoader, options: { ttlMs?: number; now?: () => number } = {}) {
    this.agents = new TenantCache(
      load,
      options.ttlMs ?? AgentRoutingView.TTL_MS,
      options.now ?? Date.now,
    );
  }

  async routingFor(tenant: string, mappings: Mappings): Promise<AgentRouting> {
    const agents = await this.agents.get(tenant);
    const cached = this.merged.get(agents);
    if (cached?.mappings === mappings) return cached.routing;
    const routing = mergeAgentLocators(mappings, agents);
    this.merged.set(agents, { mappings, routing });
    return routing;
  }

  /** Forgets a tenant's cached agents, so the next route reads them again. */
  invalidate(tenant?: string): void {
    this.agents.invalidate(tenant);
  }
}
