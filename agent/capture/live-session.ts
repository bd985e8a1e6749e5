import {
  type CaptureBackend,
  CaptureRunError,
  type CaptureStats,
  LiveCapture,
  type TimestampSource,
} from '../../native/capture.js';
import type { FlowRecord, MeterStats } from '../../native/index.js';
import type { SegmentRunOptions } from '../evidence/recorder.js';
import type { FlowSink } from './delivery.js';
import { type SessionCounters, ZERO_COUNTERS } from './types.js';

export interface LiveSessionOptions {
  id: string;
  interface: string;
  backend: CaptureBackend;
  bufferSizeMb: number;
  snaplen: number;
  filter: string;
  timestampSource: TimestampSource;
  promiscuous: boolean;
  meter: { maxFlows: number; idleTimeoutS: number; activeTimeoutS: number };
  summaryIntervalSec: number;
  sink: FlowSink;
  /** Recording: the engine hands its rotating pcap segments to onSegment (fixed for the run). */
  segments?: SegmentRunOptions | undefined;
  /** Every tick (1 s), with the engine's counters (the drop alarm watches them). */
  onTick: (stats: CaptureStats) => void;
  /** A tick's work threw (it runs from the engine's thread callback, so it must not throw). */
  onTickError: (error: unknown) => void;
  /** The capture died on its own (interface gone...): remaining flows were delivered. */
  onFailed: (error: Error) => void;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

export function liveCounters(s: CaptureStats, m: MeterStats | undefined): SessionCounters {
  return {
    packets_captured: s.packets,
    packets_dropped: s.kernel_drops,
    bytes_captured: s.bytes,
    drop_rate: round(s.drop_rate * 100, 6),
    active_flows: m?.flows_active ?? s.flows_active,
    total_flows: m?.flows_created ?? s.flows_emitted + s.flows_active,
    throughput_mbps: round(s.throughput_mbps),
    buffer_usage_pct: round(s.buffer_usage_pct, 2),
    packet_rate_pps: round(s.packet_rate_pps, 1),
    capture_duration_sec: round(s.seconds),
    parse_errors: s.parse_errors,
    evictions: m?.evictions ?? 0,
  };
}

/**
 * One live capture: the engine polls the ring on its own thread and meters every packet;
 * here, every tick, we keep the counters and every summary interval hand the ended flows
 * to the sink.
 */
export class LiveSession {
  readonly kind = 'live';
  readonly startedAt = Date.now();
  private readonly capture: LiveCapture;
  private readonly run: Promise<CaptureStats | undefined>;
  private summaryMs: number;
  private lastDrain = Date.now();
  private previous: CaptureStats | undefined;
  private final: SessionCounters | undefined;
  private stopping = false;
  private closed = false;

  constructor(readonly options: LiveSessionOptions) {
    this.summaryMs = options.summaryIntervalSec * 1000;
    // Opens the socket now: a bad interface, filter or missing privilege throws here.
    this.capture = new LiveCapture({
      interface: options.interface,
      backend: options.backend,
      bufferSizeMb: options.bufferSizeMb,
      snaplen: options.snaplen === 0 ? undefined : options.snaplen,
      filter: options.filter === '' ? undefined : options.filter,
      timestampSource: options.timestampSource,
      promiscuous: options.promiscuous,
      meter: options.meter,
    });
    this.run = this.capture
      .run(0, { tickMs: 1000, onTick: (s) => this.tick(s), ...options.segments })
      .then(
        (stats) => stats,
        (error: unknown) => {
          if (this.stopping) return error instanceof CaptureRunError ? error.stats : undefined;
          this.fail(error instanceof Error ? error : new Error(String(error)));
          return undefined;
        },
      );
  }

  get id(): string {
    return this.options.id;
  }

  get running(): boolean {
    return !this.closed;
  }

  /** Whether this run hands its packets to the evidence recorder. */
  get recording(): boolean {
    return this.options.segments !== undefined;
  }

  setSummaryInterval(sec: number): void {
    this.summaryMs = sec * 1000;
  }

  counters(): SessionCounters {
    if (this.final) return this.final;
    // Closed without final counters (the engine failed): the last tick's are what we have.
    if (this.closed) return this.previous ? liveCounters(this.previous, undefined) : ZERO_COUNTERS;
    return liveCounters(this.capture.stats(), this.capture.meterStats());
  }

  activeFlows(): FlowRecord[] {
    if (this.closed) return [];
    const active = this.capture.meterStats().flows_active;
    // snapshot() allocates its limit in C: ask for what is there (plus some that may arrive).
    return this.capture.snapshot(Math.min(active + 1024, 1_048_576));
  }

  /** Stops the ring; graceful ends and delivers every active flow and awaits the sink. */
  async stop(graceful: boolean): Promise<{ counters: SessionCounters; discarded: number }> {
    this.stopping = true;
    this.capture.stop();
    const stats = (await this.run) ?? this.capture.stats();
    let discarded = 0;
    try {
      this.drainEnded();
      if (graceful) {
        this.capture.flush();
        this.drainEnded();
      } else {
        discarded = this.capture.meterStats().flows_active;
      }
      this.final = liveCounters(stats, this.capture.meterStats());
    } finally {
      this.capture.close();
      this.closed = true;
    }
    if (graceful) await this.options.sink.idle();
    return { counters: this.final, discarded };
  }

  private tick(stats: CaptureStats): void {
    if (this.closed) return;
    this.previous = stats;
    try {
      this.options.onTick(stats);
      if (Date.now() - this.lastDrain >= this.summaryMs) this.drainEnded();
    } catch (error) {
      this.options.onTickError(error);
    }
  }

  private drainEnded(): void {
    this.lastDrain = Date.now();
    for (let batch = this.capture.drain(); batch.length > 0; batch = this.capture.drain()) {
      this.options.sink.push(batch);
    }
  }

  private fail(error: Error): void {
    try {
      // What was metered before the failure is still good: deliver it.
      this.drainEnded();
      this.capture.flush();
      this.drainEnded();
      this.final = liveCounters(this.capture.stats(), this.capture.meterStats());
      this.capture.close();
    } catch {
      // The engine could not even hand over its flows; the failure below says why.
    } finally {
      this.closed = true;
      this.options.onFailed(error);
    }
  }
}
