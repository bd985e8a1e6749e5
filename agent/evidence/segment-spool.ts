import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeSegmentHeader,
  FIXED_HEADER_LENGTH,
  headerLength,
  toHex,
} from '../../protocol/evidence/format.js';
import type { UploadRequest } from '../../protocol/evidence/upload-messages.js';
import { type AgentLogger, silentAgentLogger } from '../log.js';
import { fsyncDir, ignoreMissing, TEMP_PREFIX, writeFileDurably } from '../spool/files.js';
import { parseSegmentContext } from './segment-context.js';

/**
 * The bounded disk spool of encrypted evidence segments, waiting for the cloud to confirm them.
 * Segments arrive here already encrypted (the recorder seals them in memory), and are written
 * as the flow spool writes its batches (agent/spool/files.ts: temp file, fsync, rename,
 * directory fsync), so a kill -9 leaves either the whole segment or a temp file that the next
 * start removes. A segment leaves only when the cloud confirms it (confirm()), is refused for
 * good (refuse(): moved to refused/), or is dropped as the oldest when the bound is reached.
 *
 * Layout under `dir`:
 *   segments/<seq, 20 digits>-<segment id>.wfe   one encrypted segment per file
 *   segments/.tmp-*                              half-written; removed on open
 *   refused/<same name>                          the cloud refused it for good; kept for people
 *   state.json                                   counters and the last sequence number
 *
 * The sequence number is per agent and never reused: the last one issued is kept in state.json
 * before the newest file can leave, and recovery also takes the highest file name.
 */

/** What the uploader needs to ask for a presigned PUT: the upload_request minus its type. */
export type SegmentMeta = Omit<UploadRequest, 'type'>;

export interface SpooledSegment {
  meta: SegmentMeta;
  path: string;
  read(): Promise<Buffer>;
}

export interface SegmentSpoolStats {
  depth_segments: number;
  depth_bytes: number;
  /** Oldest segments dropped because the spool was full, and their bytes. */
  dropped_segments: number;
  dropped_bytes: number;
  /** Confirmed by the cloud (and deleted here), since the spool was created. */
  uploaded_segments: number;
  uploaded_bytes: number;
  /** Refused for good by the cloud (kept in refused/, outside the bound). */
  refused_segments: number;
  /** The last sequence number issued (-1 before the first). */
  last_seq: number;
}

export interface SegmentSpoolOverflow {
  segments: number;
  bytes: number;
  dropped_segments: number;
  dropped_bytes: number;
  /** Sequence numbers of the dropped segments (the cloud will never see them). */
  seqs: number[];
}

export interface SegmentSpoolOptions {
  dir: string;
  maxBytes: number;
  logger?: AgentLogger;
  onOverflow?: (overflow: SegmentSpoolOverflow) => void;
}

export class SegmentSpoolError extends Error {
  override readonly name = 'SegmentSpoolError';
}

interface SegmentSpoolState {
  last_seq: number;
  dropped_segments: number;
  dropped_bytes: number;
  uploaded_segments: number;
  uploaded_bytes: number;
  refused_segments: number;
}

const STATE_FILE = 'state.json';
const SEGMENT_NAME = /^(\d{20})-([0-9a-f]{32})\.wfe$/;

export function segmentFileName(seq: number, segmentId: string): string {
  return `${String(seq).padStart(20, '0')}-${segmentId}.wfe`;
}

/** What an encrypted segment file says about itself: header (key id, cipher) and context. */
export function describeSegmentFile(bytes: Buffer): SegmentMeta {
  const fixed = bytes.subarray(0, FIXED_HEADER_LENGTH);
  const header = decodeSegmentHeader(bytes.subarray(0, headerLength(fixed)));
  const context = parseSegmentContext(header.context);
  return {
    segment_id: toHex(header.segmentId),
    seq: context.seq,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    cipher: header.cipher.suite,
    key_id: toHex(header.keyId),
    started_at: context.started_at,
    ended_at: context.ended_at,
    packets: context.packets,
  };
}

export class SegmentSpool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #segmentsDir: string;
  readonly #refusedDir: string;
  readonly #logger: AgentLogger;
  readonly #onOverflow: SegmentSpoolOptions['onOverflow'];
  /** Oldest first (by sequence). */
  #entries: SpooledSegment[] = [];
  #depthBytes = 0;
  #state: SegmentSpoolState;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: SegmentSpoolOptions, state: SegmentSpoolState) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#segmentsDir = path.join(options.dir, 'segments');
    this.#refusedDir = path.join(options.dir, 'refused');
    this.#logger = options.logger ?? silentAgentLogger;
    this.#onOverflow = options.onOverflow;
    this.#state = state;
  }

  /** Creates the directories (0700) or recovers what a previous run left, crash or not. */
  static async open(options: SegmentSpoolOptions): Promise<SegmentSpool> {
    if (!options.dir) throw new SegmentSpoolError('evidence spool dir must not be empty');
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new SegmentSpoolError(`evidence spool bound must be positive, got ${options.maxBytes}`);
    }
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    await chmod(options.dir, 0o700);
    await mkdir(path.join(options.dir, 'segments'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(options.dir, 'refused'), { recursive: true, mode: 0o700 });
    const spool = new SegmentSpool(options, await readState(options.dir, options.logger));
    await spool.#recover();
    return spool;
  }

  async #recover(): Promise<void> {
    let removedTemps = 0;
    for (const dir of [this.dir, this.#segmentsDir, this.#refusedDir]) {
      const temps = (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX));
      // Never renamed into place: its add() never resolved, so nobody was promised it.
      for (const name of temps) await unlink(path.join(dir, name));
      if (temps.length > 0) await fsyncDir(dir);
      removedTemps += temps.length;
    }
    for (const name of await readdir(this.#refusedDir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match) this.#state.last_seq = Math.max(this.#state.last_seq, Number(match[1]));
    }
    const names = (await readdir(this.#segmentsDir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const file = path.join(this.#segmentsDir, name);
      const match = SEGMENT_NAME.exec(name)!;
      this.#state.last_seq = Math.max(this.#state.last_seq, Number(match[1]));
      let meta: SegmentMeta;
      try {
        // The file is the record: its authenticated header and context say what it holds.
        meta = describeSegmentFile(await readFile(file));
        if (meta.segment_id !== match[2] || meta.seq !== Number(match[1])) {
          throw new Error('its header does not match its name');
        }
      } catch (error) {
        this.#logger.warn('evidence spool: unreadable segment moved to refused/', {
          file: name,
          error: (error as Error).message,
        });
        await rename(file, path.join(this.#refusedDir, name));
        continue;
      }
      this.#index(this.#entry(meta));
    }
    if (removedTemps > 0 || this.#entries.length > 0) {
      this.#logger.info('evidence spool recovered', {
        segments: this.#entries.length,
        bytes: this.#depthBytes,
        removed_temp_files: removedTemps,
        last_seq: this.#state.last_seq,
      });
    }
    await this.#makeRoom(0);
  }

  /** The next sequence number (in memory; durable with its segment's file). */
  nextSeq(): number {
    this.#state.last_seq += 1;
    return this.#state.last_seq;
  }

  /**
   * Writes an encrypted segment durably; resolves once it survives a crash. Drops the oldest
   * segments first when the bound would be exceeded.
   */
  add(meta: SegmentMeta, encrypted: readonly Buffer[]): Promise<SpooledSegment> {
    return this.#serial(async () => {
      if (meta.bytes > this.maxBytes) {
        throw new SegmentSpoolError(
          `a segment of ${meta.bytes} bytes exceeds the evidence spool bound of ${this.maxBytes} bytes`,
        );
      }
      await this.#makeRoom(meta.bytes);
      const entry = this.#entry(meta);
      await writeFileDurably(
        this.#segmentsDir,
        path.basename(entry.path),
        Buffer.concat(encrypted),
      );
      this.#index(entry);
      return entry;
    });
  }

  /** Oldest first. */
  list(): readonly SpooledSegment[] {
    return this.#entries;
  }

  get(segmentId: string): SpooledSegment | undefined {
    return this.#entries.find((e) => e.meta.segment_id === segmentId);
  }

  /**
   * The cloud has it: delete it. The state (its sequence, the counters) is written first, so a
   * sequence is never reused; a crash between the two leaves the file, and the next run asks
   * again and is confirmed at once (counted twice in uploaded_*, never lost). It leaves the
   * index only once the file is gone, so stats() never runs ahead of the disk.
   */
  confirm(segmentId: string): Promise<boolean> {
    return this.#serial(async () => {
      const entry = this.get(segmentId);
      if (!entry) return false;
      this.#state.uploaded_segments += 1;
      this.#state.uploaded_bytes += entry.meta.bytes;
      await this.#writeState();
      await unlink(entry.path).catch(ignoreMissing);
      await fsyncDir(this.#segmentsDir);
      this.#unindex(entry);
      return true;
    });
  }

  /** The cloud will never take it: moved aside to refused/ for people to look at. */
  refuse(segmentId: string, reason: string): Promise<boolean> {
    return this.#serial(async () => {
      const entry = this.get(segmentId);
      if (!entry) return false;
      this.#state.refused_segments += 1;
      await this.#writeState();
      await rename(entry.path, path.join(this.#refusedDir, path.basename(entry.path))).catch(
        ignoreMissing,
      );
      await fsyncDir(this.#refusedDir);
      await fsyncDir(this.#segmentsDir);
      this.#unindex(entry);
      this.#logger.warn('evidence spool: segment moved to refused/', {
        seq: entry.meta.seq,
        segment_id: segmentId,
        reason,
      });
      return true;
    });
  }

  stats(): SegmentSpoolStats {
    const s = this.#state;
    return {
      depth_segments: this.#entries.length,
      depth_bytes: this.#depthBytes,
      dropped_segments: s.dropped_segments,
      dropped_bytes: s.dropped_bytes,
      uploaded_segments: s.uploaded_segments,
      uploaded_bytes: s.uploaded_bytes,
      refused_segments: s.refused_segments,
      last_seq: s.last_seq,
    };
  }

  /** Waits for pending writes and removals. */
  async flush(): Promise<void> {
    await this.#serial(async () => {});
  }

  #entry(meta: SegmentMeta): SpooledSegment {
    const file = path.join(this.#segmentsDir, segmentFileName(meta.seq, meta.segment_id));
    return { meta, path: file, read: () => readFile(file) };
  }

  #index(entry: SpooledSegment): void {
    this.#entries.push(entry);
    this.#entries.sort((a, b) => a.meta.seq - b.meta.seq);
    this.#depthBytes += entry.meta.bytes;
  }

  #unindex(entry: SpooledSegment): void {
    const i = this.#entries.indexOf(entry);
    if (i < 0) return;
    this.#entries.splice(i, 1);
    this.#depthBytes -= entry.meta.bytes;
  }

  async #makeRoom(incoming: number): Promise<void> {
    let excess = this.#depthBytes + incoming - this.maxBytes;
    if (excess <= 0) return;
    const victims: SpooledSegment[] = [];
    for (const entry of this.#entries) {
      if (excess <= 0) break;
      victims.push(entry);
      excess -= entry.meta.bytes;
    }
    const bytes = victims.reduce((sum, v) => sum + v.meta.bytes, 0);
    this.#state.dropped_segments += victims.length;
    this.#state.dropped_bytes += bytes;
    // Counters reach the disk before anything is removed: a crash over-reports a loss, never hides one.
    try {
      await this.#writeState();
    } catch (error) {
      this.#state.dropped_segments -= victims.length;
      this.#state.dropped_bytes -= bytes;
      throw error;
    }
    for (const victim of victims) this.#unindex(victim);
    for (const victim of victims) await unlink(victim.path).catch(ignoreMissing);
    await fsyncDir(this.#segmentsDir);
    const overflow: SegmentSpoolOverflow = {
      segments: victims.length,
      bytes,
      dropped_segments: this.#state.dropped_segments,
      dropped_bytes: this.#state.dropped_bytes,
      seqs: victims.map((v) => v.meta.seq),
    };
    this.#logger.warn('evidence spool full: dropped the oldest segments', {
      ...overflow,
      max_bytes: this.maxBytes,
    });
    try {
      this.#onOverflow?.(overflow);
    } catch (error) {
      this.#logger.error('evidence spool onOverflow failed', { error: (error as Error).message });
    }
  }

  #writeState(): Promise<void> {
    return writeFileDurably(this.dir, STATE_FILE, `${JSON.stringify(this.#state)}\n`);
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }
}

async function readState(dir: string, logger?: AgentLogger): Promise<SegmentSpoolState> {
  const fresh: SegmentSpoolState = {
    last_seq: -1,
    dropped_segments: 0,
    dropped_bytes: 0,
    uploaded_segments: 0,
    uploaded_bytes: 0,
    refused_segments: 0,
  };
  let text: string;
  try {
    text = await readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fresh;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Record<keyof SegmentSpoolState, unknown>>;
    for (const key of Object.keys(fresh) as Array<keyof SegmentSpoolState>) {
      const value = parsed[key];
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= fresh[key]) {
        fresh[key] = value;
      }
    }
  } catch {
    (logger ?? silentAgentLogger).warn(
      'evidence spool: state.json unreadable, counters restart (sequence from the files)',
      { dir },
    );
  }
  return fresh;
}
