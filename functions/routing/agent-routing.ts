import { type AgentAnnouncement, type AgentRouting, mergeAgentLocators } from './agent-locators.js';
import type { Mappings } from './mappings.js';

/** Reads a tenant's agents as announcements, with liveness judged at read time. */
export type AnnouncementLoader = (tenant: string) => Promise<AgentAnnouncement[]>;

interface TenantEntry {
  agents: AgentAnnouncement[];
  until: number;
  pending?: Promise<AgentAnnouncement[]>;
  mergedFrom?: Mappings;
  merged?: AgentRouting;
}

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
  static readonly MAX_TENANTS = 1_000;
  private readonly entries = new Map<string, TenantEntry>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly load: AnnouncementLoader,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? AgentRoutingView.TTL_MS;
    this.now = options.now ?? Date.now;
  }

  async routingFor(tenant: string, mappings: Mappings): Promise<AgentRouting> {
    const entry = await this.fresh(tenant);
    if (entry.mergedFrom !== mappings || entry.merged === undefined) {
      entry.merged = mergeAgentLocators(mappings, entry.agents);
      entry.mergedFrom = mappings;
    }
    return entry.merged;
  }

  /** Forgets a tenant's cached agents, so the next route reads them again. */
  invalidate(tenant?: string): void {
    if (tenant === undefined) this.entries.clear();
    else this.entries.delete(tenant);
  }

  private async fresh(tenant: string): Promise<TenantEntry> {
    let entry = this.entries.get(tenant);
    if (entry && entry.until > this.now()) return entry;
    if (!entry) {
      if (this.entries.size >= AgentRoutingView.MAX_TENANTS) this.entries.clear();
      entry = { agents: [], until: 0 };
      this.entries.set(tenant, entry);
    }
    // Concurrent requests for one tenant share one read.
    entry.pending ??= this.refresh(tenant, entry);
    await entry.pending;
    return entry;
  }

  private async refresh(tenant: string, entry: TenantEntry): Promise<AgentAnnouncement[]> {
    try {
      entry.agents = await this.load(tenant);
      entry.until = this.now() + this.ttlMs;
      entry.merged = undefined;
      return entry.agents;
    } catch (error) {
      // Without a good read yet there is nothing to route on; after one, a stale view beats none.
      if (entry.until === 0) {
        this.entries.delete(tenant);
        throw error;
      }
      return entry.agents;
    } finally {
      entry.pending = undefined;
    }
  }
}
