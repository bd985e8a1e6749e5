import { randomBytes } from 'node:crypto';
import type { CaptureStats } from '../native/capture.js';
import type { FlowRecord } from '../native/index.js';
import type { CaptureStartParams, MeterConfigureParams } from '../protocol/agent-messages.js';
import { backendsReport } from './capture/backends.js';
import { FlowSink, type OnFlows } from './capture/delivery.js';
import { DropRateAlarm } from './capture/drop-alarm.js';
import { ControlError, toControlError } from './capture/errors.js';
import { selectFlows } from './capture/flow-query.js';
import { NetflowExport } from './capture/netflow.js';
import { openSession, type Session } from './capture/open-session.js';
import { planSession, type SessionInfo, sessionInfo } from './capture/source.js';
import {
  type BackendsResult,
  type CaptureControl,
  type CaptureDefaults,
  type CaptureMetrics,
  type CaptureStatus,
  type EventSeverity,
  type EventType,
  type FirmwareReport,
  type FirmwareResult,
  type FlowDefaults,
  type FlowQuery,
  type MeterConfigureResult,
  type NetflowParams,
  type NetflowResult,
  type SessionCounters,
  type StartResult,
  type StopResult,
  ZERO_COUNTERS,
} from './capture/types.js';
import type { SegmentRunOptions } from './evidence/recorder.js';
import type { AgentLogger, AuditEntry } from './log.js';

export { ControlError } from './capture/errors.js';
export type * from './capture/types.js';

export interface CaptureControllerOptions {
  agentId: string;
  capture: CaptureDefaults;
  flows: FlowDefaults;
  logger: AgentLogger;
  /** Ended flows, in order; a returned promise is awaited before a graceful stop answers. */
  onFlows: OnFlows;
  onEvent: (
    type: EventType,
    severity: EventSeverity,
    message: string,
    details?: Record<string, unknown>,
  ) => void;
  verifyFirmware: () => FirmwareResult;
  /** Warn (drop_rate_high) when kernel drops over one tick exceed this percent (default 1). */
  dropRateAlertPct?: number;
  /** At most one drop alert per this many seconds (default 300). */
  dropRateAlertIntervalSec?: number;
  /** Evidence recording (agent/evidence/recorder.ts); live sessions started while on record. */
  recorder?: CaptureRecorder;
}

/** What the controller needs of the evidence recorder. */
export interface CaptureRecorder {
  readonly enabled: boolean;
  runOptions(): SegmentRunOptions | undefined;
  /** Every segment handed over so far is on disk (or counted as lost). */
  idle(): Promise<void>;
}

/**
 * Owns the native capture engine for the agent: one session at a time, live on an interface
 * (polled on the engine's own thread) or replaying a capture file; ended flows go to onFlows
 * and, when enabled, to a NetFlow/IPFIX collector. Every control action is audited.
 */
export class CaptureController implements CaptureControl {
  private readonly capture: CaptureDefaults;
  private readonly flowConfig: FlowDefaults;
  private readonly logger: AgentLogger;
  private readonly sink: FlowSink;
  private readonly netflow: NetflowExport;
  private readonly dropAlarm: DropRateAlarm;
  private session: Session | undefined;
  private info: SessionInfo | undefined;
  private last: SessionCounters = ZERO_COUNTERS;
  private stopping: Promise<StopResult> | undefined;

  constructor(private readonly options: CaptureControllerOptions) {
    this.capture = { ...options.capture };
    this.flowConfig = { ...options.flows };
    this.logger = options.logger;
    this.sink = new FlowSink(options.onFlows, options.logger);
    this.netflow = new NetflowExport(this.sink);
    this.dropAlarm = new DropRateAlarm(
      options.dropRateAlertPct ?? 1,
      (options.dropRateAlertIntervalSec ?? 300) * 1000,
    );
  }

  backends(): BackendsResult {
    return backendsReport();
  }

  async start(params: Partial<CaptureStartParams>, actor: string): Promise<StartResult> {
    const audit = {
      interface: params.interface ?? this.capture.interface ?? undefined,
      filter: params.filter_expr,
    };
    try {
      const result = this.open(params);
      this.audit('capture.start', actor, 'ok', {
        interface: result.interface ?? undefined,
        filter: this.info?.filter,
        file: result.file,
        backend: result.backend,
        session_id: result.session_id,
      });
      this.emit('capture_started', 'info', `capture started (${result.backend})`, {
        ...result,
        actor,
      });
      return result;
    } catch (error) {
      throw this.refused('capture.start', actor, error, audit);
    }
  }

  async stop(options: { graceful?: boolean | undefined }, actor: string): Promise<StopResult> {
    const graceful = options.graceful ?? true;
    const session = this.session;
    const audit = { interface: this.info?.interface ?? undefined, graceful };
    if (this.stopping) {
      const error = new ControlError(409, 'stopping', 'a stop is already in progress');
      throw this.refused('capture.stop', actor, error, audit);
    }
    if (!session) {
      const error = new ControlError(409, 'not_running', 'no capture is running');
      throw this.refused('capture.stop', actor, error, audit);
    }
    this.stopping = (async () => {
      let stopped: Awaited<ReturnType<Session['stop']>>;
      try {
        stopped = await session.stop(graceful);
      } catch (error) {
        // The engine failed to stop cleanly; the session is over either way.
        this.ended(session, this.last);
        throw error;
      }
      const { counters, discarded } = stopped;
      this.ended(session, counters);
      // The engine handed over its last segment before the run settled; wait for it to be on disk.
      if (session.recording) await this.options.recorder?.idle();
      return {
        status: 'stopped' as const,
        packets_captured: counters.packets_captured,
        packets_dropped: counters.packets_dropped,
        bytes_captured: counters.bytes_captured,
        duration_sec: Math.round((Date.now() - session.startedAt) / 10) / 100,
        drop_rate: counters.drop_rate,
        flows_discarded: discarded,
      };
    })();
    try {
      const result = await this.stopping;
      this.audit('capture.stop', actor, 'ok', { ...audit, session_id: session.id, ...result });
      this.emit('capture_stopped', 'info', 'capture stopped', {
        reason: 'requested',
        session_id: session.id,
        actor,
      });
      return result;
    } catch (error) {
      throw this.refused('capture.stop', actor, error, audit);
    } finally {
      this.stopping = undefined;
    }
  }

  status(): CaptureStatus {
    const info = this.info;
    const session = this.session?.running ? this.session : undefined;
    return {
      running: session !== undefined,
      interface: info?.interface ?? this.capture.interface ?? null,
      backend: info?.backend ?? this.capture.backend,
      buffer_size_mb: info?.buffer_size_mb ?? this.capture.buffer_size_mb,
      uptime_sec: session ? (Date.now() - session.startedAt) / 1000 : 0,
      // The engine meters every session; there is no capture without flows.
      flow_metering_enabled: true,
      encryption_enabled: this.options.recorder?.enabled ?? false,
      recording: session?.recording ?? false,
      netflow_enabled: this.netflow.enabled,
      ...(session ? { session_id: session.id } : {}),
      ...(info?.file ? { file: info.file } : {}),
      ...(info?.filter ? { filter: info.filter } : {}),
    };
  }

  /** Current counters; after a stop, the session's last ones. */
  metrics(): CaptureMetrics {
    const counters = this.session ? this.session.counters() : this.last;
    return {
      ...counters,
      running: this.session?.running ?? false,
      throughput_gbps: Math.round(counters.throughput_mbps) / 1000,
      timestamp: Date.now() / 1000,
    };
  }

  configureMeter(params: MeterConfigureParams, actor: string): MeterConfigureResult {
    const f = this.flowConfig;
    const before = [f.table_size, f.idle_timeout_sec, f.active_timeout_sec].join();
    f.table_size = params.table_size ?? f.table_size;
    f.idle_timeout_sec = params.idle_timeout_sec ?? f.idle_timeout_sec;
    f.active_timeout_sec = params.active_timeout_sec ?? f.active_timeout_sec;
    if (params.export_interval_sec !== undefined) {
      f.summary_interval_sec = params.export_interval_sec;
      this.session?.setSummaryInterval(params.export_interval_sec);
    }
    const tableChanged = [f.table_size, f.idle_timeout_sec, f.active_timeout_sec].join() !== before;
    // The engine sizes and times its table when a capture opens; changing it under a running
    // capture would mean a new meter and ending every active flow early, so it waits.
    const deferred = (this.session?.running ?? false) && tableChanged;
    const result: MeterConfigureResult = {
      status: 'enabled',
      table_size: f.table_size,
      idle_timeout_sec: f.idle_timeout_sec,
      active_timeout_sec: f.active_timeout_sec,
      export_interval_sec: f.summary_interval_sec,
      applies: deferred ? 'next_start' : 'now',
      ...(deferred
        ? {
            note: 'table size and timeouts apply when the capture next starts; the export interval applies now',
          }
        : {}),
    };
    this.audit('meter.configure', actor, 'ok', {
      ...result,
      interface: this.info?.interface ?? undefined,
    });
    return result;
  }

  /** Active flows (live sessions; a file run ends all its flows), filtered and sorted. */
  flows(query: FlowQuery): FlowRecord[] {
    const session = this.session;
    if (!session?.running) return [];
    return selectFlows(session.activeFlows(), query);
  }

  enableNetflow(params: NetflowParams, actor: string): NetflowResult {
    const audit = {
      collector_ip: params.collector_ip,
      collector_port: params.collector_port,
      netflow_version: params.netflow_version,
    };
    try {
      this.netflow.enable(params);
    } catch (error) {
      throw this.refused('netflow.enable', actor, error, audit);
    }
    this.audit('netflow.enable', actor, 'ok', audit);
    return {
      status: 'enabled',
      ...params,
      applies: this.session?.kind === 'file' ? 'next_file_run' : 'now',
    };
  }

  disableNetflow(actor: string): NetflowResult {
    this.netflow.disable();
    this.audit('netflow.disable', actor, 'ok', {});
    return { status: 'disabled' };
  }

  verifyFirmware(): FirmwareReport {
    const verified_at = Date.now() / 1000;
    try {
      return { ...this.options.verifyFirmware(), verified_at };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { status: 'invalid', algorithm: 'Ed25519', message, verified_at };
    }
  }

  /** Stops a running session gracefully (its flows are delivered), then the exporter. */
  async close(): Promise<void> {
    if (this.stopping) await this.stopping.catch(() => undefined);
    if (this.session) await this.stop({ graceful: true }, 'shutdown').catch(() => undefined);
    this.netflow.disable();
  }

  private open(params: Partial<CaptureStartParams>): StartResult {
    if (this.stopping) {
      throw new ControlError(409, 'stopping', 'the capture is stopping; retry shortly');
    }
    if (this.session) {
      const running = `a capture is already running (${this.session.id})`;
      throw new ControlError(409, 'already_running', running);
    }
    const id = `sess_${randomBytes(6).toString('hex')}`;
    try {
      const plan = planSession(params, this.capture);
      this.session = openSession(id, plan, this.flowConfig, this.sink, {
        onEnded: (session, reason, detail) => this.endedBySelf(session, reason, detail),
        onTick: (stats) => this.watchDrops(stats),
        onTickError: (error) =>
          this.logger.error('capture tick failed', { session_id: id, error: String(error) }),
        segments: this.options.recorder?.runOptions(),
      });
      this.info = sessionInfo(plan);
    } catch (error) {
      throw toControlError(error);
    }
    const info = this.info;
    return {
      status: 'started',
      interface: info.interface,
      backend: info.backend,
      buffer_size_mb: info.buffer_size_mb,
      timestamp_source: info.timestamp_source,
      session_id: id,
      ...(info.file ? { file: info.file } : {}),
      recording: this.session.recording,
    };
  }

  private ended(session: Session, counters: SessionCounters): void {
    // The session's last flows leave now, not when the next datagram fills up.
    this.netflow.flush();
    if (this.session !== session) return;
    this.last = counters;
    this.session = undefined;
  }

  private endedBySelf(session: Session, reason: string, detail: Record<string, unknown>): void {
    this.ended(session, session.counters());
    const details = { reason, session_id: session.id, ...this.info, ...detail };
    if (reason === 'end_of_file') {
      this.logger.info('capture ended', details);
      this.emit('capture_stopped', 'info', 'capture file replayed to the end', details);
      return;
    }
    this.logger.error('capture ended', details);
    const message = `capture failed: ${String(detail.error)}`;
    this.emit('capture_failed', 'critical', message, details);
  }

  private watchDrops(stats: CaptureStats): void {
    const pct = this.dropAlarm.observe(stats);
    if (pct === undefined) return;
    const threshold = this.dropAlarm.thresholdPct;
    const details = {
      drop_rate_pct: Math.round(pct * 1000) / 1000,
      threshold_pct: threshold,
      interface: this.info?.interface,
      kernel_drops: stats.kernel_drops,
      buffer_size_mb: this.info?.buffer_size_mb,
    };
    this.logger.warn('kernel drop rate high', details);
    this.emit(
      'drop_rate_high',
      'warning',
      `the kernel dropped ${details.drop_rate_pct}% of packets over the last second (threshold ${threshold}%): raise buffer_size_mb or narrow the filter`,
      details,
    );
  }

  /** onEvent is the agent's code: a failure there must not undo a start or a stop. */
  private emit(...args: Parameters<CaptureControllerOptions['onEvent']>): void {
    try {
      this.options.onEvent(...args);
    } catch (error) {
      this.logger.error('event handler failed', { type: args[0], error: String(error) });
    }
  }

  private audit(
    action: string,
    actor: string,
    outcome: AuditEntry['outcome'],
    fields: Record<string, unknown>,
  ): void {
    this.logger.audit(action, {
      ...fields,
      actor,
      outcome,
      encryption: this.options.recorder?.enabled ?? false,
    });
  }

  /** Audits a refused (4xx) or failed (anything else) action; returns the error to throw. */
  private refused(
    action: string,
    actor: string,
    error: unknown,
    fields: Record<string, unknown>,
  ): unknown {
    const mapped = toControlError(error);
    const refused = mapped instanceof ControlError && mapped.status < 500;
    this.audit(action, actor, refused ? 'refused' : 'failed', {
      ...fields,
      error: mapped instanceof Error ? mapped.message : String(mapped),
      ...(mapped instanceof ControlError ? { code: mapped.code } : {}),
    });
    return mapped;
  }
}
