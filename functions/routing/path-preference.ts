import type { TangoPath } from '../../protocol/tango-paths.js';
import type { Locator } from './mappings.js';
import type { WorkloadType } from './workload.js';

/**
 * Tango path preference (issue 12): among an EID's usable RLOCs of the best
 * priority, prefer the one whose measured Tango path suits the workload.
 * Pure: measurements in, a narrowed tier and a sentence for `reasons` out.
 */

/** A paths message is stale (ignored by routing, flagged by the API) past this many of its intervals. */
export const PATHS_STALE_INTERVALS = 3;

/** What routing and the API need of a stored paths message. */
export interface PathsReport {
  agent_id: string;
  interval_s: number;
  /** Epoch seconds when the cloud took it in (server clock, so agent clocks do not matter). */
  received_at: number;
  paths: readonly TangoPath[];
}

/** Seconds since the report arrived (never negative). */
export function pathsAgeSec(report: Pick<PathsReport, 'received_at'>, nowSec: number): number {
  return Math.max(0, nowSec - report.received_at);
}

export function isPathsStale(
  report: Pick<PathsReport, 'received_at' | 'interval_s'>,
  nowSec: number,
): boolean {
  return pathsAgeSec(report, nowSec) > PATHS_STALE_INTERVALS * report.interval_s;
}

export type PathCriterion = 'delay' | 'loss';

/**
 * What each workload wants of a path: short answers want the lowest delay;
 * code and long reasoning move the most bytes (long prompts, long answers), so
 * they want the lowest loss. General and local-private traffic keep the weights.
 */
export const WORKLOAD_PATH_CRITERION: Record<WorkloadType, PathCriterion | undefined> = {
  fast_response: 'delay',
  code_generation: 'loss',
  complex_reasoning: 'loss',
  general: undefined,
  local_private: undefined,
};

/**
 * Differences below these are measurement noise: the paths count as equal and
 * the weights decide, as without measurements.
 */
export const EQUAL_DELAY_MS = 0.5;
export const EQUAL_LOSS = 0.001;

/** One fresh path measurement toward a peer RLOC. */
export interface PathObservation {
  agentId: string;
  pathId: number;
  delayMs: number;
  loss: number;
}

/** Peer RLOC → the fresh path measurements that reach it, from every agent of the tenant. */
export type PathIndex = ReadonlyMap<string, readonly PathObservation[]>;

/** Indexes the tenant's latest reports by peer RLOC, leaving out stale ones. */
export function indexFreshPaths(reports: readonly PathsReport[], nowSec: number): PathIndex {
  const index = new Map<string, PathObservation[]>();
  for (const report of reports) {
    if (isPathsStale(report, nowSec)) continue;
    for (const path of report.paths) {
      const list = index.get(path.peer_rloc) ?? [];
      list.push({
        agentId: report.agent_id,
        pathId: path.path_id,
        delayMs: path.delay_ms,
        loss: path.loss,
      });
      index.set(path.peer_rloc, list);
    }
  }
  return index;
}

/** A candidate in the best-priority tier, as selectLocator holds it. */
export interface TierCandidate {
  locator: Locator;
  index: number;
}

/** What the preference made of a tier: the candidates it keeps, and why. */
export interface PathPreference {
  /** Locator indexes kept (a strict subset of the tier); absent: the tier stays whole. */
  keep?: ReadonlySet<number>;
  reason: string;
}

const value = (o: PathObservation, criterion: PathCriterion) =>
  criterion === 'delay' ? o.delayMs : o.loss;
const format = (v: number, criterion: PathCriterion) =>
  criterion === 'delay' ? `${v.toFixed(1)} ms` : `${(v * 100).toFixed(2)} % loss`;
const tolerance = (criterion: PathCriterion) =>
  criterion === 'delay' ? EQUAL_DELAY_MS : EQUAL_LOSS;
const criterionWord = (criterion: PathCriterion) => (criterion === 'delay' ? 'delay' : 'loss');

/** The best fresh path toward one RLOC (lowest value, then lowest path id, then agent id). */
function bestPath(
  observations: readonly PathObservation[],
  criterion: PathCriterion,
): PathObservation {
  return [...observations].sort(
    (a, b) =>
      value(a, criterion) - value(b, criterion) ||
      a.pathId - b.pathId ||
      (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0),
  )[0]!;
}

/**
 * Narrows a tier of equal-priority RLOCs to the one(s) whose best fresh Tango
 * path is best for the workload. Undefined when there is nothing to say (one
 * RLOC, a workload without a criterion, no measurement at all). A tier where
 * some RLOC has no fresh measurement, or where the best are all equal, stays
 * whole (the weights decide) and the reason says so.
 */
export function preferByPath(
  tier: readonly TierCandidate[],
  workload: WorkloadType,
  paths: PathIndex | undefined,
): PathPreference | undefined {
  const criterion = WORKLOAD_PATH_CRITERION[workload];
  if (!criterion || !paths || paths.size === 0 || tier.length < 2) return undefined;
  const priority = tier[0]!.locator.priority;
  const measured = tier.map((candidate) => {
    const observations = paths.get(candidate.locator.rloc);
    return {
      candidate,
      best: observations?.length ? bestPath(observations, criterion) : undefined,
    };
  });
  const unmeasured = measured.filter((m) => !m.best).map((m) => m.candidate.locator.rloc);
  if (unmeasured.length === measured.length) return undefined;
  if (unmeasured.length > 0) {
    return {
      reason: `tango paths not compared: no fresh measurement toward ${unmeasured.join(', ')}`,
    };
  }
  const scored = measured.map((m) => ({ ...m, v: value(m.best!, criterion) }));
  const lowest = Math.min(...scored.map((s) => s.v));
  const winners = scored.filter((s) => s.v - lowest < tolerance(criterion));
  const word = criterionWord(criterion);
  if (winners.length === scored.length) {
    return {
      reason: `tango paths equal in ${word} (${format(lowest, criterion)}) among ${tier.length} RLOCs of priority ${priority}`,
    };
  }
  const top = winners.sort((a, b) => a.v - b.v)[0]!;
  const others = scored
    .filter((s) => !winners.includes(s))
    .sort((a, b) => a.v - b.v)
    .map((s) => `${s.candidate.locator.rloc} ${format(s.v, criterion)}`)
    .join(', ');
  const lead =
    winners.length === 1
      ? `tango path ${top.best!.pathId} to ${top.candidate.locator.rloc}: ${format(top.v, criterion)}, lowest ${word} among ${tier.length} RLOCs of priority ${priority}`
      : `tango paths to ${winners.map((w) => w.candidate.locator.rloc).join(', ')} tie at lowest ${word} (${format(lowest, criterion)}) among ${tier.length} RLOCs of priority ${priority}`;
  return {
    keep: new Set(winners.map((w) => w.candidate.index)),
    reason: `${lead} (${workload}; others: ${others})`,
  };
}
