import { chmod, mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { UplinkChannel } from '../protocol/agent-messages.js';
import { type AgentLogger, silentAgentLogger } from './log.js';
import {
  fsyncDir,
  ignoreMissing,
  isChannel,
  makeEntry,
  parseEntryName,
  type SpoolEntry,
  TEMP_PREFIX,
  writeFileDurably,
} from './spool/files.js';
import { readState, type SpoolState, writeState } from './spool/state.js';

export type { SpoolEntry } from './spool/files.js';

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
 *
 * maxBytes bounds entries/ and rejected/ together; when room is needed the
 * oldest rejected files go first, then the oldest entries, all counted as dropped.
 */

export interface SpoolStats {
  depth_batches: number;
  depth_bytes: number;
  dropped_batches: number;
  dropped_records: number;
  rejected_batches: number;
  /** What rejected/ holds now (part of the bound). */
  rejected_bytes: number;
  /** Entries whose file vanished before they were sent (deleted from outside). */
  lost_batches: number;
  lost_records: number;
}

export interface SpoolOverflow {
  /** What this append pushed out (rejected files included). */
  batches: number;
  records: number;
  /** Totals since the spool was created. */
  dropped_batches: number;
  dropped_records: number;
}

export interface DiskSpoolOptions {
  dir: string;
  /** Bound on the summed payload sizes, rejected/ included. */
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
  /** The files in rejected/, oldest first. */
  #parked: SpoolEntry[] = [];
  #parkedBytes = 0;
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
    await mkdir(path.join(options.dir, 'entries'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(options.dir, 'rejected'), { recursive: true, mode: 0o700 });

    const state = await readState(options.dir, logger);
    const spool = new DiskSpool(options, state);
    await spool.#recover();
    return spool;
  }

  async #recover(): Promise<void> {
    let removedTemps = 0;
    for (const dir of [this.dir, this.#entriesDir, this.#rejectedDir]) {
      const temps = (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX));
      // A temp file was never renamed into place, so its append never resolved: nobody was promised it.
      for (const name of temps) await unlink(path.join(dir, name));
      if (temps.length > 0) await fsyncDir(dir);
      removedTemps += temps.length;
    }
    this.#parked = await this.#scan(this.#rejectedDir, false);
    this.#parkedBytes = this.#parked.reduce((sum, entry) => sum + entry.bytes, 0);
    const found = await this.#scan(this.#entriesDir, true);
    for (const entry of found) {
      this.#entries.set(entry.seq, entry);
      this.#depthBytes += entry.bytes;
    }
    for (const entry of [...this.#parked, ...found]) {
      this.#state.last_seq = Math.max(this.#state.last_seq, entry.seq);
    }
    if (removedTemps > 0 || found.length > 0) {
      this.#logger.info('spool recovered', {
        entries: found.length,
        bytes: this.#depthBytes,
        rejected_bytes: this.#parkedBytes,
        removed_temp_files: removedTemps,
      });
    }
    // maxBytes may have been lowered since the last run.
    await this.#makeRoom(0);
  }

  /** The entry files in dir, oldest first. */
  async #scan(dir: string, warnUnexpected: boolean): Promise<SpoolEntry[]> {
    const found: SpoolEntry[] = [];
    for (const name of await readdir(dir)) {
      const parsed = parseEntryName(name);
      if (!parsed) {
        if (warnUnexpected)
          this.#logger.warn('spool: ignoring unexpected file', { file: name, dir });
        continue;
      }
      const info = await stat(path.join(dir, name));
      found.push(makeEntry(dir, parsed.seq, parsed.channel, info.size, parsed.records));
    }
    return found.sort((a, b) => a.seq - b.seq);
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
      // Reserved before writing: a failure after the rename (directory fsync) leaves the file in
      // place, and the next append must not reuse its name.
      this.#state.last_seq += 1;
      const seq = this.#state.last_seq;
      const entry = makeEntry(this.#entriesDir, seq, channel, payload.length, records);
      await writeFileDurably(this.#entriesDir, path.basename(entry.path), payload);
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
    this.#unindex(entry);
    return this.#serial(async () => {
      try {
        await this.#persistLastSeqIfEmpty();
      } finally {
        // Even if state.json could not be written: the entry left the index, so its file must go too.
        await unlink(entry.path).catch(ignoreMissing);
        await fsyncDir(this.#entriesDir);
      }
    });
  }

  /**
   * An entry whose file is gone (deleted from outside the spool): drops it
   * from the index so the queue moves on, and counts it as lost.
   */
  forget(seq: number, reason: string): Promise<void> {
    const entry = this.#entries.get(seq);
    if (!entry) return Promise.resolve();
    this.#unindex(entry);
    this.#state.lost_batches += 1;
    this.#state.lost_records += entry.records;
    this.#logger.warn('spool: entry lost, skipping it', {
      seq,
      channel: entry.channel,
      records: entry.records,
      reason,
      lost_batches: this.#state.lost_batches,
    });
    return this.#serial(async () => {
      await this.#writeState();
      await unlink(entry.path).catch(ignoreMissing);
    });
  }

  /**
   * Parks an entry the broker keeps refusing in rejected/, so it stops
   * blocking the queue; an operator can inspect it or move it back.
   */
  reject(seq: number, reason: string): Promise<void> {
    const entry = this.#entries.get(seq);
    if (!entry) return Promise.resolve();
    this.#unindex(entry);
    const parked = makeEntry(this.#rejectedDir, seq, entry.channel, entry.bytes, entry.records);
    // Counted against the bound at once, as the entry was.
    this.#addParked(parked);
    return this.#serial(async () => {
      // Recovery reads sequences from rejected/ too, so the rename itself keeps last_seq.
      await rename(entry.path, parked.path).catch((error: NodeJS.ErrnoException) => {
        this.#removeParked(parked);
        ignoreMissing(error);
      });
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
      rejected_bytes: this.#parkedBytes,
      lost_batches: this.#state.lost_batches,
      lost_records: this.#state.lost_records,
    };
  }

  /** Waits for pending writes and removals. */
  async flush(): Promise<void> {
    await this.#serial(async () => {});
  }

  #unindex(entry: SpoolEntry): void {
    // Idempotent: an ack may race an overflow for the same entry.
    if (this.#entries.delete(entry.seq)) this.#depthBytes -= entry.bytes;
  }

  #addParked(entry: SpoolEntry): void {
    this.#parked.push(entry);
    this.#parked.sort((a, b) => a.seq - b.seq);
    this.#parkedBytes += entry.bytes;
  }

  #removeParked(entry: SpoolEntry): void {
    const i = this.#parked.indexOf(entry);
    if (i < 0) return;
    this.#parked.splice(i, 1);
    this.#parkedBytes -= entry.bytes;
  }

  async #makeRoom(incoming: number): Promise<void> {
    let excess = this.#depthBytes + this.#parkedBytes + incoming - this.maxBytes;
    if (excess <= 0) return;
    const parkedVictims: SpoolEntry[] = [];
    const victims: SpoolEntry[] = [];
    for (const entry of this.#parked) {
      if (excess <= 0) break;
      parkedVictims.push(entry);
      excess -= entry.bytes;
    }
    for (const entry of this.#entries.values()) {
      if (excess <= 0) break;
      victims.push(entry);
      excess -= entry.bytes;
    }
    const all = [...parkedVictims, ...victims];
    const records = all.reduce((sum, entry) => sum + entry.records, 0);
    this.#state.dropped_batches += all.length;
    this.#state.dropped_records += records;
    // Counters reach the disk before anything is removed: if that fails nothing changed (the
    // append fails), and a crash after it over-reports a loss rather than hiding one.
    try {
      await this.#writeState();
    } catch (error) {
      this.#state.dropped_batches -= all.length;
      this.#state.dropped_records -= records;
      throw error;
    }
    for (const entry of parkedVictims) this.#removeParked(entry);
    for (const entry of victims) this.#unindex(entry);
    for (const entry of all) await unlink(entry.path).catch(ignoreMissing);
    if (parkedVictims.length > 0) await fsyncDir(this.#rejectedDir);
    if (victims.length > 0) await fsyncDir(this.#entriesDir);
    const overflow: SpoolOverflow = {
      batches: all.length,
      records,
      dropped_batches: this.#state.dropped_batches,
      dropped_records: this.#state.dropped_records,
    };
    this.#logger.warn('spool full: dropped the oldest entries', {
      ...overflow,
      rejected: parkedVictims.length,
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
    return writeState(this.dir, this.#state);
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }
}
