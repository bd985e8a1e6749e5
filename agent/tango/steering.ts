/**
 * Which path each traffic class should take, decided by the node that RECEIVES the class (it is
 * the one that measures the paths the class crosses) and sent to the peer as a route update, as
 * in the Tango design. Pure: measurements in, decisions out; the caller sends the updates.
 *
 * A class has constraints (maximum one-way delay, maximum loss) and a goal (lowest delay or
 * lowest loss). Its path is kept while it meets the constraints. After `breachIntervals`
 * consecutive intervals in breach (one bad interval is noise, not a broken path), the class
 * moves to the path that best meets the goal among those within the constraints (or, when none
 * is, the best one overall), provided it is better by the hysteresis margin. A path measured on
 * no packets in an interval is unknown, not good: it is never chosen, and a class on it counts
 * an interval in breach (the peer keeps every path measured with its periodic updates).
 */

export type SteeringGoal = 'delay' | 'loss';

export interface TrafficClassPolicy {
  classId: number;
  maxDelayMs?: number;
  maxLoss?: number;
  goal: SteeringGoal;
}

export interface PathMeasurement {
  pathId: number;
  /** Packets accepted in the interval; 0 means nothing is known about the path. */
  packets: number;
  delayMs: number;
  loss: number;
}

export interface SteeringOptions {
  /** Intervals in breach before a class moves; default 2. */
  breachIntervals?: number;
  /** A new path must beat the current one by this much delay (ms); default 2. */
  delayMarginMs?: number;
  /** ...or by this much loss (fraction); default 0.01. */
  lossMargin?: number;
}

export interface SteeringDecision {
  classId: number;
  from: number;
  to: number;
  reason: string;
}

export class Steering {
  private readonly breaches = new Map<number, number>();
  private readonly breachIntervals: number;
  private readonly delayMarginMs: number;
  private readonly lossMargin: number;

  constructor(
    readonly policies: TrafficClassPolicy[],
    options: SteeringOptions = {},
  ) {
    this.breachIntervals = options.breachIntervals ?? 2;
    this.delayMarginMs = options.delayMarginMs ?? 2;
    this.lossMargin = options.lossMargin ?? 0.01;
  }

  /**
   * One interval's measurements against the classes' current paths (classPaths[classId]).
   * Returns the moves to make; classPaths itself is not changed.
   */
  evaluate(measurements: PathMeasurement[], classPaths: readonly number[]): SteeringDecision[] {
    const byPath = new Map(measurements.map((m) => [m.pathId, m]));
    const decisions: SteeringDecision[] = [];
    for (const policy of this.policies) {
      const from = classPaths[policy.classId] ?? 0;
      const current = byPath.get(from);
      const problem = current ? breachOf(policy, current) : 'no measurements';
      if (!problem) {
        this.breaches.set(policy.classId, 0);
        continue;
      }
      const count = (this.breaches.get(policy.classId) ?? 0) + 1;
      this.breaches.set(policy.classId, count);
      if (count < this.breachIntervals) continue;
      const best = this.bestPath(policy, measurements);
      if (!best || best.pathId === from) continue;
      if (current && current.packets > 0 && !this.clearlyBetter(policy, best, current)) continue;
      this.breaches.set(policy.classId, 0);
      decisions.push({
        classId: policy.classId,
        from,
        to: best.pathId,
        reason: `path ${from}: ${problem} for ${count} intervals; path ${best.pathId}: ${describe(best)}`,
      });
    }
    return decisions;
  }

  private bestPath(
    policy: TrafficClassPolicy,
    measurements: PathMeasurement[],
  ): PathMeasurement | undefined {
    const known = measurements.filter((m) => m.packets > 0);
    const within = known.filter((m) => !breachOf(policy, m));
    const pool = within.length > 0 ? within : known;
    const key = (m: PathMeasurement) =>
      policy.goal === 'delay' ? [m.delayMs, m.loss] : [m.loss, m.delayMs];
    return [...pool].sort((a, b) => {
      const [a1, a2] = key(a);
      const [b1, b2] = key(b);
      return a1! - b1! || a2! - b2! || a.pathId - b.pathId;
    })[0];
  }

  private clearlyBetter(
    policy: TrafficClassPolicy,
    candidate: PathMeasurement,
    current: PathMeasurement,
  ): boolean {
    // Moving off a path that breaks a constraint onto one that keeps them all is always better.
    if (!breachOf(policy, candidate)) return true;
    return policy.goal === 'delay'
      ? candidate.delayMs + this.delayMarginMs <= current.delayMs
      : candidate.loss + this.lossMargin <= current.loss;
  }
}

/** Which constraint a path breaks for a class, or undefined. */
export function breachOf(policy: TrafficClassPolicy, m: PathMeasurement): string | undefined {
  if (m.packets === 0) return 'no measurements';
  if (policy.maxDelayMs !== undefined && m.delayMs > policy.maxDelayMs) {
    return `delay ${m.delayMs.toFixed(1)} ms over ${policy.maxDelayMs} ms`;
  }
  if (policy.maxLoss !== undefined && m.loss > policy.maxLoss) {
    return `loss ${(m.loss * 100).toFixed(1)} % over ${(policy.maxLoss * 100).toFixed(1)} %`;
  }
  return undefined;
}

const describe = (m: PathMeasurement) =>
  `${m.delayMs.toFixed(1)} ms, loss ${(m.loss * 100).toFixed(1)} %`;
