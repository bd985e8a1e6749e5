import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlowExporter } from './exporter.js';
import { decodeFlowRecords, type FlowRecordLayout } from './flow-records.js';

/**
 * Typed loader for the C capture engine (native/binding, native/src).
 * Per-packet work stays in C; JS sees batches of ended flows and counters.
 */

export type FlowState = 'ACTIVE' | 'CLOSING' | 'CLOSED';
export type EndReason = 'idle' | 'active' | 'fin_rst' | 'end_of_capture' | 'evicted';

/** One bidirectional flow; the initiator (first packet's source) is `src`. */
export interface FlowRecord {
  /** Seeded 64-bit hash of the flow key, 16 hex digits. */
  flow_id: string;
  ip_version: 4 | 6;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  /** For ICMP/ICMPv6: type << 8 | code, as NetFlow does. */
  dst_port: number;
  protocol: number;
  vlan_id: number;
  packets: number;
  /** IP-layer bytes, as NetFlow counts them. */
  bytes: number;
  packets_fwd: number;
  packets_rev: number;
  bytes_fwd: number;
  bytes_rev: number;
  /** Epoch seconds. */
  first_seen: number;
  last_seen: number;
  duration_sec: number;
  /** OR of both directions, e.g. "SYN|ACK|FIN". */
  tcp_flags: string;
  state: FlowState;
  /** Why the record was emitted; null while the flow is active. */
  end_reason: EndReason | null;
}

export interface MeterOptions {
  /** 4 096 .. 16 777 216 concurrent flows. */
  maxFlows?: number;
  idleTimeoutS?: number;
  activeTimeoutS?: number;
  /** Hash seed; random when omitted. */
  seed?: bigint;
}

export interface MeterStats {
  packets: number;
  bytes: number;
  ip_packets: number;
  non_ip: number;
  parse_errors: number;
  fragments_unmatched: number;
  flows_active: number;
  flows_created: number;
  flows_emitted: number;
  evictions: number;
  emit_queue_drops: number;
  capacity: number;
  bytes_per_flow: number;
  memory_bytes: number;
}

export interface FileRunResult {
  format: 'pcap' | 'pcapng';
  file_bytes: number;
  packets: number;
  seconds: number;
  /** Set when the file turned out corrupt part-way; what came before was metered. */
  error: string | null;
}

/** What meterFileToFd adds: the text went to a file descriptor, not to JS. */
export interface TextRunResult extends FileRunResult {
  /** Flow records formatted for output (with write_error, not all reached the fd). */
  flows: number;
  /** Why writing failed (the read stopped there too), or null. */
  write_error: string | null;
  /** The failure was EPIPE: the reader went away, as with `| head`. */
  write_epipe: boolean;
}

/** Text formats the engine writes itself (the CLI's ndjson and csv). */
export type TextFormat = 'ndjson' | 'csv';

interface RunOptions {
  batch?: number;
  flushAtEnd?: boolean;
}

export interface BackendInfo {
  name: string;
  status: 'available' | 'unavailable';
  detail: string;
}

/** Flow records as the addon hands them over: packed wf_flow_record structs. */
export type PackedFlows = ArrayBuffer;

interface NativeFlowMeter {
  meterFile(
    file: string,
    onFlows: (flows: PackedFlows) => void,
    options?: RunOptions & { exporter?: object },
  ): FileRunResult;
  meterFileTo(
    file: string,
    fd: number,
    format: TextFormat,
    options?: RunOptions & { exporter?: object },
  ): TextRunResult;
  stats(): MeterStats;
  snapshot(limit?: number): PackedFlows;
  flush(): void;
  drain(max?: number): PackedFlows;
  close(): void;
}

export interface NativeModule {
  FlowMeter: new (options?: MeterOptions) => NativeFlowMeter;
  backends(): BackendInfo[];
  recordLayout: FlowRecordLayout;
}

/** The addon is not built (npm install could not compile it) or failed to load. */
export class NativeEngineUnavailableError extends Error {
  override readonly name = 'NativeEngineUnavailableError';
}

/** A capture file that cannot be opened or is not a capture file. */
export class InvalidCaptureFileError extends Error {
  override readonly name = 'InvalidCaptureFileError';
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const ADDON_PATH = path.join(here, 'build', 'Release', 'wirefleet_engine.node');

let loaded: NativeModule | undefined;

/** Loads the addon once; throws NativeEngineUnavailableError with the reason. */
export function loadEngine(addonPath = ADDON_PATH): NativeModule {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    throw new NativeEngineUnavailableError(
      `native engine not built (${addonPath} missing): run npm install, which needs g++, make and python3`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath) as NativeModule;
  } catch (error) {
    throw new NativeEngineUnavailableError(
      `native engine failed to load: ${(error as Error).message}`,
    );
  }
  return loaded;
}

/** The exporter as the addon takes it: its native handle. */
function nativeOptions(options: RunOptions & { exporter?: FlowExporter }) {
  const { exporter, ...rest } = options;
  return exporter ? { ...rest, exporter: exporter.nativeHandle } : rest;
}

/** A flow meter backed by the C engine. */
export class FlowMeter {
  private readonly native: NativeFlowMeter;
  private readonly layout: FlowRecordLayout;

  constructor(options: MeterOptions = {}) {
    const engine = loadEngine();
    this.native = new engine.FlowMeter(options);
    this.layout = engine.recordLayout;
  }

  /**
   * Meters a pcap/pcapng file; `onFlows` receives ended flows in batches, and
   * at the end every remaining flow (end_of_capture) unless flushAtEnd is false.
   * With `exporter`, each batch is exported in C before `onFlows` sees it, and
   * the exporter is flushed at the end.
   */
  meterFile(
    file: string,
    onFlows: (flows: FlowRecord[]) => void,
    options: RunOptions & { exporter?: FlowExporter } = {},
  ): FileRunResult {
    const { layout } = this;
    return this.run(() =>
      this.native.meterFile(
        file,
        (packed) => onFlows(decodeFlowRecords(packed, layout)),
        nativeOptions(options),
      ),
    );
  }

  /**
   * Like meterFile, but the engine writes the flows to `fd` itself, as the
   * CLI's ndjson or csv text (csv with its header line), in large writes:
   * the records are never decoded in JS. A failed write stops the read and
   * is reported in `write_error`.
   */
  meterFileToFd(
    file: string,
    fd: number,
    format: TextFormat,
    options: RunOptions & { exporter?: FlowExporter } = {},
  ): TextRunResult {
    return this.run(() => this.native.meterFileTo(file, fd, format, nativeOptions(options)));
  }

  private run<T>(meter: () => T): T {
    try {
      return meter();
    } catch (error) {
      if ((error as { code?: string }).code === 'EINVALIDCAPTURE') {
        throw new InvalidCaptureFileError((error as Error).message);
      }
      throw error;
    }
  }

  stats(): MeterStats {
    return this.native.stats();
  }

  /** Active flows, without ending them. */
  snapshot(limit = 1000): FlowRecord[] {
    return decodeFlowRecords(this.native.snapshot(limit), this.layout);
  }

  flush(): void {
    this.native.flush();
  }

  drain(max?: number): FlowRecord[] {
    return decodeFlowRecords(this.native.drain(max), this.layout);
  }

  close(): void {
    this.native.close();
  }
}

/** Capture backends and whether this build can use them. */
export function captureBackends(): BackendInfo[] {
  return loadEngine().backends();
}
