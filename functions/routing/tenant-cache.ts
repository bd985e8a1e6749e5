/**
 * Per-tenant values read at most once per TTL, so /route pays one store query every few seconds
 * per tenant, not one per request. Concurrent callers share one read. After a good read, a failed
 * refresh serves the last value (a stale view beats none) and the next call tries again; before
 * one, the failure rejects. At most MAX_TENANTS are kept: past that all are dropped and re-read
 * (cheap, and it bounds memory without bookkeeping).
 */
export class TenantCache<T> {
  static readonly MAX_TENANTS = 1_000;
  private readonly entries = new Map<string, { value?: T; until: number; pending?: Promise<T> }>();

  constructor(
    private readonly load: (tenant: string) => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  async get(tenant: string): Promise<T> {
    let entry = this.entries.get(tenant);
    if (entry && entry.until > this.now()) return entry.value as T;
    if (!entry) {
      if (this.entries.size >= TenantCache.MAX_TENANTS) this.entries.clear();
      entry = { until: 0 };
      this.entries.set(tenant, entry);
    }
    entry.pending ??= this.refresh(tenant, entry);
    return entry.pending;
  }

  /** Forgets a tenant (or all), so the next call reads again. */
  invalidate(tenant?: string): void {
    if (tenant === undefined) this.entries.clear();
    else this.entries.delete(tenant);
  }

  private async refresh(
    tenant: string,
    entry: { value?: T; until: number; pending?: Promise<T> },
  ): Promise<T> {
    try {
      const value = await this.load(tenant);
      entry.value = value;
      entry.until = this.now() + this.ttlMs;
      return value;
    } catch (error) {
      if (entry.until === 0) {
        this.entries.delete(tenant);
        throw error;
      }
      return entry.value as T;
    } finally {
      entry.pending = undefined;
    }
  }
}
