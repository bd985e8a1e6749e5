import type { TangoPathStats } from '../../native/tango.js';
import type { TangoPathsMessage } from '../../protocol/tango-paths.js';
import type { KeyedNode, KeySchedule } from './key-schedule.js';
import {
  type PathEndpoints,
  type PathInterval,
  pathInterval,
  pathsMessage,
} from './path-intervals.js';
import type { Steering, SteeringDecision } from './steering.js';

/**
 * The control loop of one Tango node, run in JS beside the C forwarder: every interval it
 * installs the keys that are due, measures each path from the node's counters, steers the
 * classes the PEER sends to us (we receive them, so we measure their paths) by sending the peer
 * authenticated route updates, and every report interval publishes the paths on MQTT.
 *
 * It also re-announces every class's path each interval, on every path: lost updates repair
 * themselves, and the announcements keep each path measured in both directions when no
 * traffic uses it (a path with nothing on it would otherwise be unknown).
 */

export interface MeasuredNode extends KeyedNode {
  pathStats(pathId: number): TangoPathStats;
}

/** What the controller asks of the forwarder (native/tango-forwarder.ts). */
export interface RouteUpdateSender {
  sendRouteUpdate(classId: number, pathId: number): void;
}

export interface TangoControllerOptions {
  node: MeasuredNode;
  forwarder: RouteUpdateSender;
  keys: KeySchedule;
  steering: Steering;
  /** class id -> the path the peer starts it on (the config both ends share). */
  initialPaths: Map<number, number>;
  endpoints: PathEndpoints[];
  peer: { agent_id?: string; name?: string };
  intervalMs: number;
  reportIntervalMs: number;
  publish(message: TangoPathsMessage): void;
  log?(message: string, fields?: Record<string, unknown>): void;
  now?(): number;
}

export class TangoController {
  /** class id -> the path we asked the peer to send it on. */
  private readonly requested: Map<number, number>;
  /** Counters at the start of the interval (empty until the first tick). */
  private previous = new Map<number, TangoPathStats>();
  private reportBase = new Map<number, TangoPathStats>();
  private reportStartMs = 0;
  private lastIntervalMs = 0;
  private nextKeyTickMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private decisions = 0;
  private last: PathInterval[] = [];

  constructor(private readonly o: TangoControllerOptions) {
    this.requested = new Map(o.initialPaths);
  }

  /** Installs the keys, announces the starting paths and runs the loop until stop(). */
  start(): void {
    this.tick(this.now());
    this.timer = setInterval(() => this.tick(this.now()), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One interval; exported for tests, which drive the clock themselves. */
  tick(nowMs: number): SteeringDecision[] {
    if (nowMs >= this.nextKeyTickMs) {
      const { nextTickMs, changed } = this.o.keys.tick(this.o.node, nowMs);
      this.nextKeyTickMs = nextTickMs;
      for (const change of changed) this.o.log?.('tango key installed', { change });
    }
    let moves: SteeringDecision[] = [];
    // The first call only installs keys, takes the counters' baseline and announces.
    if (this.previous.size === 0) this.snapshot(nowMs);
    const seconds = (nowMs - this.lastIntervalMs) / 1000;
    if (seconds > 0) {
      const current = this.readStats();
      this.last = this.o.endpoints.map(({ pathId }) =>
        pathInterval(pathId, this.previous.get(pathId)!, current.get(pathId)!, seconds),
      );
      this.previous = current;
      this.lastIntervalMs = nowMs;
      const classPaths: number[] = [];
      for (const [classId, pathId] of this.requested) classPaths[classId] = pathId;
      moves = this.o.steering.evaluate(this.last, classPaths);
      for (const move of moves) {
        this.requested.set(move.classId, move.to);
        this.decisions++;
        this.o.log?.('tango class moved', { ...move });
      }
      if (nowMs - this.reportStartMs >= this.o.reportIntervalMs) this.report(nowMs, current);
    }
    for (const [classId, pathId] of this.requested) {
      this.o.forwarder.sendRouteUpdate(classId, pathId);
    }
    return moves;
  }

  /** What the node asked of its peer, and the last interval's measurements. */
  status(): { requested: Record<number, number>; decisions: number; paths: PathInterval[] } {
    return {
      requested: Object.fromEntries(this.requested),
      decisions: this.decisions,
      paths: this.last,
    };
  }

  private report(nowMs: number, current: Map<number, TangoPathStats>): void {
    const seconds = (nowMs - this.reportStartMs) / 1000;
    const intervals = this.o.endpoints.map(({ pathId }) =>
      pathInterval(pathId, this.reportBase.get(pathId)!, current.get(pathId)!, seconds),
    );
    this.o.publish(
      pathsMessage({
        sentAtMs: nowMs,
        seconds,
        peer: this.o.peer,
        endpoints: this.o.endpoints,
        intervals,
      }),
    );
    this.reportBase = current;
    this.reportStartMs = nowMs;
  }

  private snapshot(nowMs: number): void {
    const stats = this.readStats();
    this.previous = stats;
    this.reportBase = stats;
    this.lastIntervalMs = nowMs;
    this.reportStartMs = nowMs;
  }

  private readStats(): Map<number, TangoPathStats> {
    return new Map(this.o.endpoints.map(({ pathId }) => [pathId, this.o.node.pathStats(pathId)]));
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }
}
