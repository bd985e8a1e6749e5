import { indexFreshPaths, type PathIndex, type PathsReport } from './path-preference.js';

/** Reads a tenant's latest paths report of every agent. */
export type PathsLoader = (tenant: string) => Promise<readonly PathsReport[]>;

interface TenantEntry {
  reports: readonly PathsReport[];
  until: number;
  pending?: Promise<void>;
}

/**
 * The tenant's Tango path measurements as routing uses them, read at most once
 * per TTL per tenant (as AgentRoutingView reads heartbeats), with freshness
 * judged on every request. Measurements only refine a choice, so a failed
 * read routes without them (the caller logs it) rather than failing the route.
 */
export class TangoPathsView {
  static readonly TTL_MS = 5_000;
  static readonly MAX_TENANTS = 1_000;
  private readonly entries = new Map<string, TenantEntry>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly load: PathsLoader,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? TangoPathsView.TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Fresh measurements by peer RLOC; rejects only when the store cannot be read. */
  async pathsFor(tenant: string): Promise<PathIndex> {
    let entry = this.entries.get(tenant);
    if (!entry || entry.until <= this.now()) {
      if (!entry) {
        if (this.entries.size >= TangoPathsView.MAX_TENANTS) this.entries.clear();
        entry = { reports: [], until: 0 };
        this.entries.set(tenant, entry);
      }
      const target = entry;
      // Concurrent requests for one tenant share one read.
      target.pending ??= this.load(tenant)
        .then((reports) => {
          target.reports = reports;
          target.until = this.now() + this.ttlMs;
        })
        .finally(() => {
          target.pending = undefined;
        });
      await target.pending;
    }
    return indexFreshPaths(entry.reports, this.now() / 1000);
  }

  invalidate(tenant?: string): void {
    if (tenant === undefined) this.entries.clear();
    else this.entries.delete(tenant);
  }
}
