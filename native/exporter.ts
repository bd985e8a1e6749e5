import { isIPv4, isIPv6 } from 'node:net';
import { type FlowRecord, loadEngine } from './index.js';

/**
 * NetFlow v5 / IPFIX export to UDP collectors, done in C (native/src/exporter.c).
 *
 * Two ways in: `FlowExporter.send(records)` for FlowRecord objects already in JS
 * (converted back to C records), or `FlowMeter.meterFile(file, onFlows, {exporter})`,
 * which hands every ended flow to the exporter in C before converting it for JS.
 *
 * v5 carries IPv4 only: each bidirectional flow becomes one record per direction
 * that has packets, IPv6 flows are skipped and counted (`records_skipped`).
 * IPFIX (10) sends one RFC 5103 biflow record per flow (reverse counters under
 * PEN 29305; nfdump 1.7 stores them as out_packets/out_bytes), IPv4 and IPv6.
 */

export type ExportVersion = 5 | 10;

export interface ExporterOptions {
  version: ExportVersion;
  /** 1..8 collectors, "192.0.2.1:2055" or "[2001:db8::1]:4739"; every datagram goes to each. */
  targets: string[];
  /** IPFIX observation domain id; NetFlow v5 engine_id (low 8 bits). */
  observationDomain?: number;
  /** IPFIX: re-send templates at least this often (default 60 s)... */
  templateRefreshS?: number;
  /** ...and every N messages (default 20). */
  templateRefreshPackets?: number;
  /** Pacing, default 20 000 datagrams/s: keeps a collector on the same host from dropping. */
  maxDatagramsPerS?: number;
}

/** Counters; with several targets each record counts once per target. */
export interface ExporterStats {
  /** Export records (v5 records / IPFIX data records) in datagrams that were sent. */
  records_sent: number;
  datagrams_sent: number;
  bytes_sent: number;
  /** IPFIX messages that carried the template set. */
  templates_sent: number;
  /** Flows NetFlow v5 cannot carry (IPv6). */
  records_skipped: number;
  /** sendto failures after one retry; the datagram is dropped. */
  send_errors: number;
  records_dropped: number;
}

interface NativeExporter {
  send(records: FlowRecord[]): boolean;
  flush(): boolean;
  stats(): ExporterStats;
  close(): void;
}

interface ExporterModule {
  Exporter: new (options: ExporterOptions) => NativeExporter;
}

/** A collector address that is not numeric HOST:PORT / [IPv6]:PORT. */
export class InvalidCollectorError extends Error {
  override readonly name = 'InvalidCollectorError';
}

export interface Collector {
  host: string;
  port: number;
  family: 4 | 6;
  /** Normalised "HOST:PORT" / "[HOST]:PORT" as the C exporter takes it. */
  target: string;
}

/** Parses "192.0.2.1:2055" or "[2001:db8::1]:2055"; names are refused, not resolved. */
export function parseCollector(text: string): Collector {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  const plain = /^([^:[\]]+):(\d+)$/.exec(value);
  const match = bracketed ?? plain;
  if (!match) {
    if (/^[^[\]]*:[^[\]]*:/.test(value)) {
      throw new InvalidCollectorError(
        `collector "${text}": write IPv6 addresses in brackets, [addr]:port`,
      );
    }
    throw new InvalidCollectorError(`collector "${text}": want HOST:PORT, e.g. 127.0.0.1:2055`);
  }
  const host = match[1]!;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidCollectorError(`collector "${text}": port must be 1-65535`);
  }
  if (bracketed) {
    if (!isIPv6(host)) {
      throw new InvalidCollectorError(
        `collector "${text}": "${host}" is not a numeric IPv6 address`,
      );
    }
    return { host, port, family: 6, target: `[${host}]:${port}` };
  }
  if (!isIPv4(host)) {
    const reason = /[a-z]/i.test(host)
      ? 'hostnames are not resolved, give a numeric IPv4 or [IPv6] address'
      : `"${host}" is not a numeric IPv4 address`;
    throw new InvalidCollectorError(`collector "${text}": ${reason}`);
  }
  return { host, port, family: 4, target: `${host}:${port}` };
}

/** Sends flow records to NetFlow v5 / IPFIX collectors over UDP. */
export class FlowExporter {
  private readonly native: NativeExporter;

  constructor(options: ExporterOptions) {
    if (options.version !== 5 && options.version !== 10) {
      throw new RangeError(`export version must be 5 or 10, got ${String(options.version)}`);
    }
    if (options.targets.length < 1 || options.targets.length > 8) {
      throw new InvalidCollectorError(
        `1 to 8 collectors are needed, got ${options.targets.length}`,
      );
    }
    const targets = options.targets.map((t) => parseCollector(t).target);
    const engine = loadEngine() as unknown as ExporterModule;
    this.native = new engine.Exporter({ ...options, targets });
  }

  /** The native handle FlowMeter.meterFile passes to C (the fast path). */
  get nativeHandle(): object {
    return this.native;
  }

  /** Queues and sends records (full datagrams, paced); false if a datagram was dropped. */
  send(records: FlowRecord[]): boolean {
    return this.native.send(records);
  }

  /** Sends the partly filled datagram, if any. */
  flush(): boolean {
    return this.native.flush();
  }

  stats(): ExporterStats {
    return this.native.stats();
  }

  /** Flushes and closes the sockets; stats() still answers afterwards. */
  close(): void {
    this.native.close();
  }
}
