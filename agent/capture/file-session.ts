import { type FileRunResult, FlowMeter, InvalidCaptureFileError } from '../../native/index.js';
import type { FlowSink } from './delivery.js';
import type { SessionCounters } from './types.js';

export interface FileSessionOptions {
  id: string;
  file: string;
  meter: { maxFlows: number; idleTimeoutS: number; activeTimeoutS: number };
  /** Re-read the file every N s; 0 = once. */
  replayLoopSec: number;
  sink: FlowSink;
  /** The session ended by itself: 'end_of_file', or 'file_error' with the reason. */
  onEnded: (reason: 'end_of_file' | 'file_error', detail: Record<string, unknown>) => void;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Meters a capture file, once or every replayLoopSec. Each run uses a fresh meter, so the same
 * packets give the same flows (and the same record ids): a replay after a restart is harmless.
 *
 * meterFile is one synchronous call into C, so a run blocks the event loop while it reads the
 * file: the README's flow-metering benchmark reads 878 MB (2 M packets, 100 000 flows) in about
 * 0.5 s of C and 1.5 s end to end. A worker thread would avoid the block, but the engine's
 * objects (meter, exporter handle) belong to the thread that made them, flows would be copied
 * across, and the agent runs as TypeScript through a loader each worker would have to repeat.
 * For the replay files an agent reads (test and demo captures, MBs to a few hundred MB) one
 * short block per run is the simpler choice; the control API answers again right after it.
 * The run starts on a 0 ms timer, so start() answers first.
 */
export class FileSession {
  readonly kind = 'file';
  readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopped = false;
  private ended = false;
  runs = 0;
  private totals = { packets: 0, bytes: 0, flows: 0, parse_errors: 0, evictions: 0 };
  private last: { result: FileRunResult; bytes: number } | undefined;

  constructor(readonly options: FileSessionOptions) {
    this.timer = setTimeout(() => this.next(), 0);
  }

  get id(): string {
    return this.options.id;
  }

  get running(): boolean {
    return !this.ended;
  }

  /** The engine cuts pcap segments only from live captures: a replayed file is not recorded. */
  readonly recording = false;

  setSummaryInterval(): void {
    // Files are delivered in engine batches as they are read; there is no interval to change.
  }

  counters(): SessionCounters {
    const seconds = this.last?.result.seconds ?? 0;
    return {
      packets_captured: this.totals.packets,
      packets_dropped: 0,
      bytes_captured: this.totals.bytes,
      drop_rate: 0,
      // Every run ends all its flows (end_of_capture): none stays active between runs.
      active_flows: 0,
      total_flows: this.totals.flows,
      // The rate the engine read the last run at (a file has no line rate).
      throughput_mbps: seconds > 0 ? round((this.last!.bytes * 8) / seconds / 1e6) : 0,
      buffer_usage_pct: 0,
      packet_rate_pps: seconds > 0 ? round(this.last!.result.packets / seconds, 1) : 0,
      capture_duration_sec: round((Date.now() - this.startedAt) / 1000),
      parse_errors: this.totals.parse_errors,
      evictions: this.totals.evictions,
    };
  }

  activeFlows(): [] {
    return [];
  }

  async stop(graceful: boolean): Promise<{ counters: SessionCounters; discarded: number }> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
    this.ended = true;
    if (graceful) await this.options.sink.idle();
    return { counters: this.counters(), discarded: 0 };
  }

  private next(): void {
    this.timer = undefined;
    if (this.stopped) return;
    // runOnce ends the session on the engine's errors itself; this catch is the last guard,
    // since nobody awaits a run started by a timer and an unhandled rejection ends the agent.
    this.current = this.runOnce()
      .catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        if (!this.ended) this.end('file_error', { error: `${this.options.file}: ${reason}` });
      })
      // onEnded is the controller's hook; if it throws, the session has ended all the same.
      .catch(() => undefined)
      .finally(() => {
        this.current = undefined;
      });
  }

  private async runOnce(): Promise<void> {
    const { sink, file } = this.options;
    let meter: FlowMeter | undefined;
    let result: FileRunResult;
    try {
      // Inside the try: the engine refuses a table it cannot allocate when the meter is made.
      meter = new FlowMeter(this.options.meter);
      result = meter.meterFile(file, (batch) => sink.push(batch, sink.exporter !== undefined), {
        exporter: sink.exporter,
      });
      const s = meter.stats();
      this.runs++;
      this.totals.packets += s.packets;
      this.totals.bytes += s.bytes;
      this.totals.flows += s.flows_emitted;
      this.totals.parse_errors += s.parse_errors;
      this.totals.evictions += s.evictions;
      this.last = { result, bytes: s.bytes };
    } catch (error) {
      const reason =
        error instanceof InvalidCaptureFileError || error instanceof Error
          ? error.message
          : String(error);
      await sink.idle();
      this.end('file_error', { error: `${file}: ${reason}` });
      return;
    } finally {
      meter?.close();
    }
    await sink.idle();
    if (this.stopped) return;
    if (result.error) {
      this.end('file_error', {
        error: `${file}: corrupt after ${result.packets} packets: ${result.error}`,
      });
      return;
    }
    if (this.options.replayLoopSec > 0) {
      this.timer = setTimeout(() => this.next(), this.options.replayLoopSec * 1000);
      return;
    }
    this.end('end_of_file', { runs: this.runs, packets: this.totals.packets });
  }

  private end(reason: 'end_of_file' | 'file_error', detail: Record<string, unknown>): void {
    this.ended = true;
    this.options.onEnded(reason, detail);
  }
}
