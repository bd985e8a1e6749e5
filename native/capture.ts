import { decodeFlowRecords } from './flow-records.js';
import {
  type FlowRecord,
  loadEngine,
  type MeterOptions,
  type MeterStats,
  type PackedFlows,
} from './index.js';

/**
 * Live capture through the C engine: an AF_PACKET TPACKET_V3 ring (or libpcap) polled on a
 * dedicated native thread that meters every packet into the capture's own flow
 * meter (and optionally writes a pcap). JS stays responsive: `run()` returns a
 * promise, counters arrive through `onTick`, and ended flows are taken with
 * `drain()` while the capture runs.
 */

export type TimestampSource = 'kernel' | 'adapter' | 'adapter_unsynced';

/**
 * afpacket (default): our own AF_PACKET TPACKET_V3 ring. libpcap: libpcap
 * loaded at run time (pcap_create/pcap_activate/pcap_dispatch); no fanout, and
 * ring block counters stay 0.
 */
export type CaptureBackend = 'afpacket' | 'libpcap';

export interface CaptureOptions {
  /** Interface to capture on (e.g. eth0). */
  interface: string;
  /** Capture backend (default afpacket); see captureBackends() for what this host can run. */
  backend?: CaptureBackend;
  /** Bytes kept per packet, 64..262144 (default 262144). */
  snaplen?: number;
  promiscuous?: boolean;
  /** Ring size in MiB, 1..4096 (default 64). */
  bufferSizeMb?: number;
  /** TPACKET_V3 block size in KiB (default 1024, rounded up to a power-of-two number of pages). */
  blockSizeKb?: number;
  /** The kernel hands a partly filled block over after this long (default 50 ms). */
  blockTimeoutMs?: number;
  /** tcpdump filter expression, compiled with libpcap (which must be installed). */
  filter?: string;
  /** kernel (default), or NIC timestamps (fails on NICs that cannot, such as veth). */
  timestampSource?: TimestampSource;
  /** Join PACKET_FANOUT_HASH|DEFRAG group 1..65535 (several processes share the traffic by flow). */
  fanoutGroup?: number;
  /** The capture's own flow meter. */
  meter?: MeterOptions;
}

export interface CaptureStats {
  /** Packets delivered to us (and metered). */
  packets: number;
  /** Wire bytes of delivered packets (link layer included). */
  bytes: number;
  /** Packets the kernel accepted for this socket, drops included (PACKET_STATISTICS). */
  kernel_packets: number;
  /** Packets the kernel dropped because the ring was full. */
  kernel_drops: number;
  freeze_count: number;
  /** Ring blocks (0 with the libpcap backend, whose ring is not visible). */
  blocks_total: number;
  /** Ring blocks filled and waiting for us. */
  blocks_user: number;
  buffer_usage_pct: number;
  /** Over the last tick (whole-run averages in the result of run()). */
  throughput_mbps: number;
  packet_rate_pps: number;
  /** kernel_drops / kernel_packets since the start. */
  drop_rate: number;
  flows_active: number;
  flows_emitted: number;
  parse_errors: number;
  /** Seconds since run() started. */
  seconds: number;
  /** Present when the run writes a pcap (writeFile or onSegment). */
  pcap?: {
    packets_written: number;
    packets_dropped: number;
    bytes_written: number;
    segments: number;
  };
}

export interface PcapSegmentInfo {
  sequence: number;
  packets: number;
  /** Epoch seconds of the first and last packet. */
  first_seen: number;
  last_seen: number;
}

export interface CaptureRunOptions {
  /** Called every tickMs (default 1000, at least 50) with the counters. */
  onTick?: (stats: CaptureStats) => void;
  tickMs?: number;
  /** Write every packet to this file: one continuous nanosecond pcap. */
  writeFile?: string;
  /**
   * Receive the packets as rotating pcap segments (each a complete pcap file),
   * of at most segmentBytes (default 64 MiB) / segmentSeconds (default 60).
   */
  onSegment?: (pcap: Buffer, info: PcapSegmentInfo) => void;
  segmentBytes?: number;
  segmentSeconds?: number;
}

interface NativeLiveCapture {
  run(durationMs: number, options: CaptureRunOptions): Promise<CaptureStats>;
  stop(): void;
  stats(): CaptureStats;
  meterStats(): MeterStats;
  drain(max?: number): PackedFlows;
  snapshot(limit?: number): PackedFlows;
  flush(): void;
  close(): void;
  readonly linktype: number;
  readonly running: boolean;
}

interface NativeLiveCaptureClass {
  new (options: CaptureOptions): NativeLiveCapture;
  compileFilter(expression: string, options?: { snaplen?: number; linktype?: number }): number;
}

function nativeClass(): NativeLiveCaptureClass {
  const engine = loadEngine() as ReturnType<typeof loadEngine> & {
    LiveCapture?: NativeLiveCaptureClass;
  };
  if (!engine.LiveCapture) {
    throw new Error(
      'this build of the native engine has no live capture (rebuild: npm run build:native)',
    );
  }
  return engine.LiveCapture;
}

/**
 * The capture could not be opened: no such interface, a filter that does not
 * compile, no CAP_NET_RAW, a NIC without hardware timestamps... One line, for people.
 */
export class CaptureOpenError extends Error {
  override readonly name = 'CaptureOpenError';
  constructor(
    message: string,
    /** ENODEV, EPERM, EINVAL (bad filter or option), EOPNOTSUPP, ENETDOWN... */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** A filter expression that libpcap does not accept (or libpcap is missing). */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

/** The capture failed while running (interface went away, file write error). */
export class CaptureRunError extends Error {
  override readonly name = 'CaptureRunError';
  constructor(
    message: string,
    readonly stats: CaptureStats | undefined,
  ) {
    super(message);
  }
}

/**
 * Compiles a tcpdump filter expression for Ethernet and returns its number of
 * BPF instructions; throws FilterError with libpcap's reason.
 */
export function compileFilter(expression: string, options: { snaplen?: number } = {}): number {
  try {
    return nativeClass().compileFilter(expression, options);
  } catch (error) {
    if ((error as { code?: string }).code === 'EFILTER') {
      throw new FilterError((error as Error).message);
    }
    throw error;
  }
}

/** A live capture on one interface; open at construction, so bad settings throw at once. */
export class LiveCapture {
  private readonly native: NativeLiveCapture;

  constructor(options: CaptureOptions) {
    const Native = nativeClass();
    try {
      this.native = new Native(options);
    } catch (error) {
      const e = error as { code?: string; reason?: string; message: string };
      if (e.code === 'ECAPTUREOPEN') throw new CaptureOpenError(e.message, e.reason ?? 'ECAPTURE');
      throw error;
    }
  }

  /** LINKTYPE_* of the packets (1 = Ethernet, 101 = raw IP). */
  get linktype(): number {
    return this.native.linktype;
  }

  get running(): boolean {
    return this.native.running;
  }

  /**
   * Captures for durationMs (0 = until stop()) on a native thread; resolves with
   * the final counters (whole-run average rates). Flows stay in the meter:
   * take them with drain() (ended flows) or flush() then drain() (all).
   */
  async run(durationMs: number, options: CaptureRunOptions = {}): Promise<CaptureStats> {
    try {
      return await this.native.run(durationMs, options);
    } catch (error) {
      const e = error as { code?: string; stats?: CaptureStats; message: string };
      if (e.code === 'ECAPTURE') throw new CaptureRunError(e.message, e.stats);
      throw error;
    }
  }

  /** Ends the run soon (within ~0.1 s plus the block timeout); run()'s promise then settles. */
  stop(): void {
    this.native.stop();
  }

  stats(): CaptureStats {
    return this.native.stats();
  }

  meterStats(): MeterStats {
    return this.native.meterStats();
  }

  /** Ended flows (idle/active timeout, FIN/RST, or all after flush()). */
  drain(max?: number): FlowRecord[] {
    return decodeFlowRecords(this.native.drain(max), loadEngine().recordLayout);
  }

  /** Active flows, without ending them. */
  snapshot(limit = 1000): FlowRecord[] {
    return decodeFlowRecords(this.native.snapshot(limit), loadEngine().recordLayout);
  }

  /** Ends every active flow (end_of_capture); drain() then returns them. */
  flush(): void {
    this.native.flush();
  }

  /** Closes the socket and frees the meter (stops a running capture first). */
  close(): void {
    this.native.close();
  }
}
