/** Kernel counters, as a live capture's tick reports them. */
export interface DropCounters {
  /** Packets the kernel took for the socket, drops included. */
  kernel_packets: number;
  kernel_drops: number;
}

/**
 * Raises when the kernel dropped more than `thresholdPct` of what it took over the last
 * interval (one tick), at most once per `quietMs`. Whole-run rates would hide a burst after a
 * long quiet run, and a per-tick alarm without a quiet period would flood the events channel.
 */
export class DropRateAlarm {
  private previous: DropCounters | undefined;
  private lastRaised = Number.NEGATIVE_INFINITY;

  constructor(
    readonly thresholdPct: number,
    readonly quietMs: number,
  ) {}

  /** The drop rate (percent) over the interval when it should be raised now, else undefined. */
  observe(counters: DropCounters, now = Date.now()): number | undefined {
    const before = this.previous;
    this.previous = {
      kernel_packets: counters.kernel_packets,
      kernel_drops: counters.kernel_drops,
    };
    if (!before) return undefined;
    const taken = counters.kernel_packets - before.kernel_packets;
    const dropped = counters.kernel_drops - before.kernel_drops;
    if (taken <= 0 || dropped <= 0) return undefined;
    const pct = (dropped / taken) * 100;
    if (pct <= this.thresholdPct || now - this.lastRaised < this.quietMs) return undefined;
    this.lastRaised = now;
    return pct;
  }
}
