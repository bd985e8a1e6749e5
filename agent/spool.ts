import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UPLINK_CHANNELS, type UplinkChannel } from '../protocol/agent-messages.js';
import { type AgentLogger, silentAgentLogger } from './log.js';

/**
 * A crash-safe, bounded disk spool for the uplink: every message is on disk
 * (fsynced, renamed into place, directory fsynced) before it is published, and
 * is removed only after the broker's PUBACK. MQTT.js keeps nothing across a
 * restart, so this is the only queue that counts.
 *
 * Layout under `dir`:
 *   entries/<seq, 20 digits>-<channel>-<records>.msg   one message per file
 *   entries/.tmp-*                                      half-written; removed on open
 *   rejected/<same name>                                parked by the uplink after
 *                                                       repeated broker refusals
 *   state.json                                          counters and the last sequence,
 *                                                       written atomically
 */

export interface SpoolEntry {
  /** Monotonic across restarts; the publish order. */
  seq: number;
  channel: UplinkChannel;
  /** Payload size. */
  bytes: number;
  /** Flow records in the payload (0 for other channels). */
  records: number;
  path: string;
  read(): Promise<Buffer>;
}

export interface SpoolStats {
  depth_batches: number;
  depth_bytes: number;
  dropped_batches: number;
  dropped_records: number;
  rejected_batches: number;
}

export interface SpoolOverflow {
  /** What this append pushed out. */
  batches: number;
  records: number;
  /** Totals since the spool was created. */
  dropped_batches: number;
  dropped_records: number;
}

export interface DiskSpoolOptions {
  dir: string;
  /** Bound on the summed payload sizes. */
  maxBytes: number;
  logger?: AgentLogger;
  /** Called after the oldest entries were dropped to make room (for a spool_overflow event). */
  onOverflow?: (overflow: SpoolOverflow) => void;
}

/** Bad options, or a payload that can never fit. */
export class SpoolError extends Error {
  override readonly name: string = 'SpoolError';
}

export class SpoolEntryTooLargeError extends SpoolError {
  override readonly name = 'SpoolEntryTooLargeError';
}

interface SpoolState {
  last_seq: number;
  dropped_batches: number;
  dropped_records: number;
  rejected_batches: number;
}

const ENTRY_NAME = /^(\d{20})-([a-z]+)-(\d+)\.msg$/;
const TEMP_PREFIX = '.tmp-';
const STATE_FILE = 'state.json';

function entryName(seq: number, channel: UplinkChannel, records: number): string {
  return `${String(seq).padStart(20, '0')}-${channel}-${records}.msg`;
}

function isChannel(value: string): value is UplinkChannel {
  return (UPLINK_CHANNELS as readonly string[]).includes(value);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** temp file + fsync + rename + directory fsync: after this resolves the file survives power loss. */
async function writeFileDurably(dir: string, name: string, data: Buffer | string): Promise<void> {
  const temp = path.join(dir, `${TEMP_PREFIX}${name}.${randomBytes(4).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  await rename(temp, path.join(dir, name));
  await fsyncDir(dir);
}

function makeEntry(
  dir: string,
  seq: number,
  channel: UplinkChannel,
  bytes: number,
  records: number,
): SpoolEntry {
  const file = path.join(dir, entryName(seq, channel, records));
  return { seq, channel, bytes, records, path: file, read: () => readFile(file) };
}

export class DiskSpool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #entriesDir: string;
  readonly #rejectedDir: string;
  readonly #logger: AgentLogger;
  readonly #onOverflow: ((overflow: SpoolOverflow) => void) | undefined;
  /** Oldest first: sequences only grow and recovery inserts in order, so insertion order is seq order. */
  readonly #entries = new Map<number, SpoolEntry>();
  #depthBytes = 0;
  #state: SpoolState;
  /** Serialises everything that changes files or counters. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: DiskSpoolOptions, state: SpoolState) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#entriesDir = path.join(options.dir, 'entries');
    this.#rejectedDir = path.join(options.dir, 'rejected');
    this.#logger = options.logger ?? silentAgentLogger;
    this.#onOverflow = options.onOverflow;
    this.#state = state;
  }

  /** Creates the directory (0700) or recovers what a previous run left, crash or not. */
  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    if (!options.dir) throw new SpoolError('spool dir must not be empty');
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new SpoolError(`spool maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    const logger = options.logger ?? silentAgentLogger;
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    // The spool holds flow data: keep it private even if the directory already existed.
    await chmod(options.dir, 0o700);
    const entriesDir = path.join(options.dir, 'entries');
    const rejectedDir = path.join(options.dir, 'rejected');
    await mkdir(entriesDir, { recursive: true, mode: 0o700 });
    await mkdir(rejectedDir, { recursive: true, mode: 0o700 });

    const state = await readState(options.dir, logger);
    const spool = new DiskSpool(options, state);
    await spool.#recover();
    return spool;
  }

  async #recover(): Promise<void> {
    let maxSeq = this.#state.last_seq;
    let removedTemps = 0;
    for (const dir of [this.dir, this.#entriesDir, this.#rejectedDir]) {
      const temps = (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX));
      // A temp file was never renamed into place, so its append never resolved: nobody was promised it.
      for (const name of temps) await unlink(path.join(dir, name));
      if (temps.length > 0) await fsyncDir(dir);
      removedTemps += temps.length;
    }
    for (const name of await readdir(this.#rejectedDir)) {
      const match = ENTRY_NAME.exec(name);
      if (match) maxSeq = Math.max(maxSeq, Number(match[1]));
    }
    const found: SpoolEntry[] = [];
    for (const name of await readdir(this.#entriesDir)) {
      const match = ENTRY_NAME.exec(name);
      if (!match || !isChannel(match[2]!)) {
        this.#logger.warn('spool: ignoring unexpected file', { file: name, dir: this.#entriesDir });
        continue;
      }
      const seq = Number(match[1]);
      const info = await stat(path.join(this.#entriesDir, name));
      found.push(makeEntry(this.#entriesDir, seq, match[2], info.size, Number(match[3])));
      maxSeq = Math.max(maxSeq, seq);
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const entry of found) {
      this.#entries.set(entry.seq, entry);
      this.#depthBytes += entry.bytes;
    }
    this.#state.last_seq = maxSeq;
    if (removedTemps > 0 || found.length > 0) {
      this.#logger.info('spool recovered', {
        entries: found.length,
        bytes: this.#depthBytes,
        removed_temp_files: removedTemps,
      });
    }
    // maxBytes may have been lowered since the last run.
    if (this.#depthBytes > this.maxBytes) await this.#makeRoom(0);
  }

  /** Resolves once the entry is durable. Drops the oldest entries when the bound would be exceeded. */
  append(
    channel: UplinkChannel,
    payload: Buffer,
    meta: { records?: number } = {},
  ): Promise<SpoolEntry> {
    return this.#serial(async () => {
      if (!isChannel(channel)) throw new SpoolError(`unknown uplink channel "${channel}"`);
      if (payload.length > this.maxBytes) {
        throw new SpoolEntryTooLargeError(
          `spool entry of ${payload.length} bytes exceeds the spool bound of ${this.maxBytes} bytes`,
        );
      }
      const records = meta.records ?? 0;
      if (!Number.isSafeInteger(records) || records < 0) {
        throw new SpoolError(`records must be a non-negative integer, got ${records}`);
      }
      await this.#makeRoom(payload.length);
      const seq = this.#state.last_seq + 1;
      const entry = makeEntry(this.#entriesDir, seq, channel, payload.length, records);
      await writeFileDurably(this.#entriesDir, path.basename(entry.path), payload);
      this.#state.last_seq = seq;
      this.#entries.set(seq, entry);
      this.#depthBytes += entry.bytes;
      return entry;
    });
  }

  /** Up to `max` entries, oldest first. */
  peek(max: number): SpoolEntry[] {
    const out: SpoolEntry[] = [];
    if (max <= 0) return out;
    for (const entry of this.#entries.values()) {
      out.push(entry);
      if (out.length >= max) break;
    }
    return out;
  }

  has(seq: number): boolean {
    return this.#entries.has(seq);
  }

  /**
   * The broker has it: forget the entry now (so it is never handed out again)
   * and resolve once the removal is durable. Unknown sequences are ignored (an
   * entry dropped by overflow while in flight).
   */
  ack(seq: number): Promise<void> {
    const entry = this.#entries.get(seq);
    if (!entry) return Promise.resolve();
    this.#forget(entry);
    return this.#serial(async () => {
      await this.#persistLastSeqIfEmpty();
      await unlink(entry.path).catch(ignoreMissing);
      await fsyncDir(this.#entriesDir);
    });
  }

  /**
   * Parks an entry the broker keeps refusing in rejected/, so it stops
   * blocking the queue; an operator can inspect it or move it back.
   */
  reject(seq: number, reason: string): Promise<void> {
    const entry = this.#entries.get(seq);
    if (!entry) return Promise.resolve();
    this.#forget(entry);
    return this.#serial(async () => {
      await this.#persistLastSeqIfEmpty();
      await rename(entry.path, path.join(this.#rejectedDir, path.basename(entry.path))).catch(
        ignoreMissing,
      );
      await fsyncDir(this.#rejectedDir);
      await fsyncDir(this.#entriesDir);
      this.#state.rejected_batches += 1;
      await this.#writeState();
      this.#logger.warn('spool: entry parked in rejected/', {
        seq,
        channel: entry.channel,
        records: entry.records,
        reason,
      });
    });
  }

  stats(): SpoolStats {
    return {
      depth_batches: this.#entries.size,
      depth_bytes: this.#depthBytes,
      dropped_batches: this.#state.dropped_batches,
      dropped_records: this.#state.dropped_records,
      rejected_batches: this.#state.rejected_batches,
    };
  }

  /** Waits for pending writes and removals. */
  async flush(): Promise<void> {
    await this.#serial(async () => {});
  }

  #forget(entry: SpoolEntry): void {
    this.#entries.delete(entry.seq);
    this.#depthBytes -= entry.bytes;
  }

  async #makeRoom(incoming: number): Promise<void> {
    if (this.#depthBytes + incoming <= this.maxBytes) return;
    const victims: SpoolEntry[] = [];
    let freed = 0;
    for (const entry of this.#entries.values()) {
      if (this.#depthBytes - freed + incoming <= this.maxBytes) break;
      victims.push(entry);
      freed += entry.bytes;
    }
    const records = victims.reduce((sum, entry) => sum + entry.records, 0);
    for (const entry of victims) this.#forget(entry);
    this.#state.dropped_batches += victims.length;
    this.#state.dropped_records += records;
    // Counters first: a crash in between over-reports a loss rather than hiding one.
    await this.#writeState();
    for (const entry of victims) await unlink(entry.path).catch(ignoreMissing);
    await fsyncDir(this.#entriesDir);
    const overflow: SpoolOverflow = {
      batches: victims.length,
      records,
      dropped_batches: this.#state.dropped_batches,
      dropped_records: this.#state.dropped_records,
    };
    this.#logger.warn('spool full: dropped the oldest entries', {
      ...overflow,
      max_bytes: this.maxBytes,
    });
    try {
      this.#onOverflow?.(overflow);
    } catch (error) {
      this.#logger.error('spool onOverflow handler failed', { error: (error as Error).message });
    }
  }

  /**
   * Sequences must not restart at 1 once the spool is empty: before the
   * newest entry's file goes, its sequence is recorded in state.json.
   */
  async #persistLastSeqIfEmpty(): Promise<void> {
    if (this.#entries.size === 0) await this.#writeState();
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

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

async function readState(dir: string, logger: AgentLogger): Promise<SpoolState> {
  const fresh: SpoolState = {
    last_seq: 0,
    dropped_batches: 0,
    dropped_records: 0,
    rejected_batches: 0,
  };
  let text: string;
  try {
    text = await readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fresh;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<SpoolState>;
    const count = (value: unknown) =>
      typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
    return {
      last_seq: count(parsed.last_seq),
      dropped_batches: count(parsed.dropped_batches),
      dropped_records: count(parsed.dropped_records),
      rejected_batches: count(parsed.rejected_batches),
    };
  } catch {
    // Written atomically, so this is outside interference; the entries themselves are still intact.
    logger.warn('spool: state.json unreadable, counters restart at 0', { dir });
    return fresh;
  }
}
