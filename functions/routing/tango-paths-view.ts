import { indexFreshPaths, type PathIndex, type PathsReport } from './path-preference.js';
import { TenantCache } from './tenant-cache.js';

/** Reads a tenant's latest paths report of every agent. */
export type PathsLoader = (tenant: string) => Promise<readonly PathsReport[]>;

/**
 * The tenant's Tango path measurements as routing uses them, read at most once
 * per TTL per tenant (as AgentRoutingView reads heartbeats), with freshness
 * judged on every request (tenant-cache.ts). Measurements only refine a choice, so
 * a failed first read routes without them (the caller logs it) rather than failing the route.
 */
export class TangoPathsView {
  static readonly TTL_MS = 5_000;
  private readonly reports: TenantCache<readonly PathsReport[]>;
  private readonly now: () => number;

  constructor(load: PathsLoader, options: { ttlMs?: number; now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
    this.reports = new TenantCache(load, options.ttlMs ?? TangoPathsView.TTL_MS, this.now);
  }

  /** Fresh measurements by peer RLOC; rejects only when the store cannot be read. */
  async pathsFor(tenant: string): Promise<PathIndex> {
    return indexFreshPaths(await this.reports.get(tenant), this.now() / 1000);
  }

  invalidate(tenant?: string): void {
    this.reports.invalidate(tenant);
  }
}
