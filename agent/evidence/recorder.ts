import { createHash } from 'node:crypto';
import type { PcapSegmentInfo } from '../../native/capture.js';
import { type CipherSuite, cipherBySuite, toHex } from '../../protocol/evidence/format.js';
import { type AgentLogger, silentAgentLogger } from '../log.js';
import { loadKeyFile } from './key-file.js';
import type { MasterKey } from './master-key.js';
import { encodeSegmentContext } from './segment-context.js';
import { SegmentEncryptor } from './segment-encryptor.js';
import type { SegmentSpool } from './segment-spool.js';

/**
 * Records the live capture's rotating pcap segments as encrypted evidence: each segment the
 * engine hands over (a whole pcap in memory) is sealed with SegmentEncryptor right there, its
 * plaintext buffer wiped, and only the ciphertext goes to the segment spool. No plaintext byte
 * is written anywhere, temp files included.
 */

export type EvidenceEventType = 'spool_overflow' | 'segment_refused' | 'recording_failed';
export type EvidenceEvent = (
  type: EvidenceEventType,
  severity: 'info' | 'warning' | 'critical',
  message: string,
  details?: Record<string, unknown>,
) => void;

export interface RecorderOptions {
  agentId: string;
  spool: SegmentSpool;
  /** A segment is cut at this many pcap bytes or this many seconds, whichever comes first. */
  segmentBytes: number;
  segmentSeconds: number;
  logger?: AgentLogger;
  onEvent?: EvidenceEvent;
  /** A segment is durable in the spool (the uploader's cue). */
  onRecorded?: () => void;
  /**
   * Sealed bytes waiting for the disk at most (default 256 MiB). Past it a new segment is
   * dropped and counted rather than memory growing while the disk lags behind the capture.
   */
  maxPendingBytes?: number;
}

export interface RecordingState {
  enabled: boolean;
  cipher_suite: CipherSuite | null;
  key_file: string | null;
  key_id: string | null;
}

export interface RecorderStats {
  /** Segments sealed and spooled since the agent started, and their encrypted bytes. */
  segments_recorded: number;
  bytes_recorded: number;
  packets_recorded: number;
  /** Segments lost because they could not be written (disk full, I/O error). */
  write_failures: number;
}

/** What a live capture run needs to hand its segments over (native/capture.ts run options). */
export interface SegmentRunOptions {
  onSegment: (pcap: Buffer, info: PcapSegmentInfo) => void;
  segmentBytes: number;
  segmentSeconds: number;
}

export class SegmentRecorder {
  readonly #options: RecorderOptions;
  readonly #logger: AgentLogger;
  #key: MasterKey | undefined;
  #cipher: CipherSuite = 'AES-256-GCM';
  #keyFile: string | null = null;
  readonly #pending = new Set<Promise<void>>();
  #pendingBytes = 0;
  readonly #stats: RecorderStats = {
    segments_recorded: 0,
    bytes_recorded: 0,
    packets_recorded: 0,
    write_failures: 0,
  };

  constructor(options: RecorderOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentAgentLogger;
  }

  /**
   * Turns recording on (or changes cipher and key for the next segment). The key file is read
   * and checked now (0600, the user's, a real key): a KeyFileError says why it is refused, and
   * the previous settings stay.
   */
  enable(settings: { cipher: string; keyFile: string }): RecordingState {
    const cipher = cipherBySuite(settings.cipher);
    if (!cipher) throw new RangeError(`unknown cipher suite "${settings.cipher}"`);
    const key = loadKeyFile(settings.keyFile);
    this.#key?.bytes.fill(0);
    this.#key = key;
    this.#cipher = cipher.suite;
    this.#keyFile = settings.keyFile;
    return this.state();
  }

  get enabled(): boolean {
    return this.#key !== undefined;
  }

  state(): RecordingState {
    return {
      enabled: this.enabled,
      cipher_suite: this.enabled ? this.#cipher : null,
      key_file: this.#keyFile,
      key_id: this.#key ? toHex(this.#key.id) : null,
    };
  }

  stats(): RecorderStats {
    return { ...this.#stats };
  }

  /** The run options a live capture needs while recording is on; undefined when it is off. */
  runOptions(): SegmentRunOptions | undefined {
    if (!this.enabled) return undefined;
    return {
      onSegment: (pcap, info) => this.record(pcap, info),
      segmentBytes: this.#options.segmentBytes,
      segmentSeconds: this.#options.segmentSeconds,
    };
  }

  /**
   * Seals one pcap segment and hands it to the spool. Synchronous up to the write, so the
   * plaintext lives only as long as this call; the write is tracked for idle().
   */
  record(pcap: Buffer, info: PcapSegmentInfo): void {
    const key = this.#key;
    if (!key) {
      pcap.fill(0);
      return;
    }
    const spool = this.#options.spool;
    let sealed: Buffer[];
    let meta: Parameters<SegmentSpool['add']>[0];
    try {
      const seq = spool.nextSeq();
      const context = {
        agent_id: this.#options.agentId,
        seq,
        started_at: info.first_seen,
        ended_at: info.last_seen,
        packets: info.packets,
      };
      const encryptor = new SegmentEncryptor(key, {
        cipher: this.#cipher,
        context: encodeSegmentContext(context),
      });
      sealed = [encryptor.header, ...encryptor.push(pcap), ...encryptor.finish()];
      const bytes = sealed.reduce((sum, b) => sum + b.length, 0);
      const hash = createHash('sha256');
      for (const part of sealed) hash.update(part);
      meta = {
        segment_id: toHex(encryptor.segmentId),
        seq,
        bytes,
        sha256: hash.digest('hex'),
        cipher: this.#cipher,
        key_id: toHex(key.id),
        started_at: info.first_seen,
        ended_at: info.last_seen,
        packets: info.packets,
      };
    } catch (error) {
      this.#failed(info, error);
      return;
    } finally {
      // The engine's buffer is ours now: no plaintext outlives the sealing.
      pcap.fill(0);
    }
    const limit = this.#options.maxPendingBytes ?? 256 * 1024 * 1024;
    if (this.#pendingBytes + meta.bytes > limit && this.#pendingBytes > 0) {
      const behind = new Error(
        `the disk is ${this.#pendingBytes} bytes behind the capture (limit ${limit}); segment dropped`,
      );
      this.#failed(info, behind, meta.seq);
      return;
    }
    this.#pendingBytes += meta.bytes;
    const bytes = meta.bytes;
    const write = spool
      .add(meta, sealed)
      .then(() => {
        this.#stats.segments_recorded += 1;
        this.#stats.bytes_recorded += meta.bytes;
        this.#stats.packets_recorded += meta.packets;
        this.#logger.debug('evidence segment recorded', {
          seq: meta.seq,
          segment_id: meta.segment_id,
          packets: meta.packets,
          bytes: meta.bytes,
        });
        this.#options.onRecorded?.();
      })
      .catch((error: unknown) => this.#failed(info, error, meta.seq));
    this.#pending.add(write);
    void write.finally(() => {
      this.#pending.delete(write);
      this.#pendingBytes -= bytes;
    });
  }

  /** Resolves when every segment handed over so far is on disk (or counted as failed). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #failed(info: PcapSegmentInfo, error: unknown, seq?: number): void {
    this.#stats.write_failures += 1;
    const message = error instanceof Error ? error.message : String(error);
    const details = {
      ...(seq === undefined ? {} : { seq }),
      packets: info.packets,
      first_seen: info.first_seen,
      last_seen: info.last_seen,
      error: message,
      write_failures: this.#stats.write_failures,
    };
    this.#logger.error('evidence segment not recorded: lost', details);
    try {
      this.#options.onEvent?.(
        'recording_failed',
        'critical',
        `an evidence segment could not be recorded: ${message}`,
        details,
      );
    } catch (eventError) {
      this.#logger.error('evidence event failed', { error: String(eventError) });
    }
  }
}
