import { type CaptureStats, compileFilter } from '../../native/capture.js';
import type { SegmentRunOptions } from '../evidence/recorder.js';
import type { FlowSink } from './delivery.js';
import { FileSession } from './file-session.js';
import { LiveSession } from './live-session.js';
import type { SessionPlan } from './source.js';
import type { FlowDefaults } from './types.js';

export type Session = LiveSession | FileSession;

export interface SessionHooks {
  /** The session ended on its own: the file ran out or failed, or the live capture failed. */
  onEnded: (session: Session, reason: string, detail: Record<string, unknown>) => void;
  /** Live sessions: the engine's counters, once a second. */
  onTick: (stats: CaptureStats) => void;
  onTickError: (error: unknown) => void;
  /** Recording on: the run's segment options (live sessions only). */
  segments?: SegmentRunOptions | undefined;
}

/** Opens the session a plan describes, metering with the current flow table settings. */
export function openSession(
  id: string,
  plan: SessionPlan,
  flows: FlowDefaults,
  sink: FlowSink,
  hooks: SessionHooks,
): Session {
  const meter = {
    maxFlows: flows.table_size,
    idleTimeoutS: flows.idle_timeout_sec,
    activeTimeoutS: flows.active_timeout_sec,
  };
  if (plan.kind === 'file') {
    const session: FileSession = new FileSession({
      id,
      file: plan.file,
      meter,
      replayLoopSec: plan.replayLoopSec,
      sink,
      onEnded: (reason, detail) => hooks.onEnded(session, reason, detail),
    });
    return session;
  }
  // Compiled first: libpcap's own message, and no socket opened for a bad expression.
  if (plan.filter !== '') compileFilter(plan.filter, plan.snaplen ? { snaplen: plan.snaplen } : {});
  const session: LiveSession = new LiveSession({
    id,
    interface: plan.interface,
    backend: plan.backend,
    bufferSizeMb: plan.bufferSizeMb,
    snaplen: plan.snaplen,
    filter: plan.filter,
    timestampSource: plan.timestampSource,
    promiscuous: plan.promiscuous,
    meter,
    summaryIntervalSec: flows.summary_interval_sec,
    sink,
    segments: hooks.segments,
    onTick: hooks.onTick,
    onTickError: hooks.onTickError,
    onFailed: (error) => hooks.onEnded(session, 'capture_failed', { error: error.message }),
  });
  return session;
}
