/** Refusals from more addresses than this share one window: the map stays bounded. */
const MAX_ADDRESSES = 1024;
const OTHER_ADDRESSES = '*';

interface Window {
  /** Refusals since the last line written. */
  count: number;
  /** The latest refusal's fields, for the summary line. */
  last: Record<string, unknown> | undefined;
  timer: NodeJS.Timeout;
}

/**
 * Rate-limits audit lines for refused requests, per remote address. Anyone on the host can
 * send requests without a token, and each audit line is also a synchronous append to the
 * audit file: the first refusal is written at once, later ones are counted and summed up in at
 * most one line (`refused_count`) per window while they go on.
 */
export class RefusalAudit {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly write: (fields: Record<string, unknown>) => void,
    private readonly windowMs = 10_000,
  ) {}

  refused(remote: string, fields: Record<string, unknown>): void {
    const key =
      this.windows.has(remote) || this.windows.size < MAX_ADDRESSES ? remote : OTHER_ADDRESSES;
    const window = this.windows.get(key);
    if (window) {
      window.count++;
      window.last = key === OTHER_ADDRESSES ? { ...fields, actor: 'control-api:*' } : fields;
      return;
    }
    this.open(key);
    this.write(fields);
  }

  private open(key: string): void {
    const timer = setTimeout(() => this.close(key), this.windowMs);
    // A pending summary must not keep the agent from exiting.
    timer.unref();
    this.windows.set(key, { count: 0, last: undefined, timer });
  }

  private close(key: string): void {
    const window = this.windows.get(key);
    this.windows.delete(key);
    if (!window || window.count === 0 || !window.last) return;
    // Still refusing: keep summing up, one line per window.
    this.open(key);
    this.write({
      ...window.last,
      refused_count: window.count,
      window_sec: this.windowMs / 1000,
    });
  }
}
