import { randomBytes } from 'node:crypto';
import { constants, unlinkSync } from 'node:fs';
import { type FileHandle, link, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './options.js';

/**
 * An output file that appears whole or not at all: bytes go to a 0600 temp file beside the
 * target, which becomes the target only on commit() (after fsync). discard() removes it, and so
 * does Ctrl-C or SIGTERM while it is open (then the process dies of that signal). Without `replace`, an existing target is refused up
 * front and again at commit (link(2) fails if it appeared meanwhile); with it, rename(2)
 * replaces it atomically.
 */
export class PendingFile {
  private done = false;
  private readonly onSignal: (signal: NodeJS.Signals) => void;

  private constructor(
    readonly target: string,
    readonly temp: string,
    private readonly handle: FileHandle,
    private readonly replace: boolean,
  ) {
    this.onSignal = (signal) => {
      try {
        unlinkSync(this.temp);
      } catch {
        // already gone
      }
      process.stderr.write(`wirefleet: interrupted; ${this.target} was not written\n`);
      // Die of the signal itself: process.exit() would wait for a read blocked on a pipe or FIFO.
      this.finish();
      process.kill(process.pid, signal);
    };
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  static async create(target: string, replace: boolean): Promise<PendingFile> {
    if (!replace && (await exists(target))) {
      throw new UsageError(`${target} already exists (use --force to replace it)`);
    }
    const dir = path.dirname(path.resolve(target));
    const temp = path.join(
      dir,
      `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`,
    );
    let handle: FileHandle;
    try {
      handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (error) {
      throw new UsageError(`cannot write beside ${target}: ${(error as Error).message}`);
    }
    return new PendingFile(target, temp, handle, replace);
  }

  async write(buffers: readonly Uint8Array[]): Promise<void> {
    if (buffers.length === 0) return;
    await this.handle.writev(buffers as Uint8Array[]);
  }

  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    await this.handle.write(bytes, 0, bytes.length, offset);
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    try {
      if (this.replace) {
        await rename(this.temp, this.target);
      } else {
        await this.linkExclusively();
      }
    } catch (error) {
      await unlink(this.temp).catch(() => {});
      throw error;
    } finally {
      this.finish();
    }
  }

  /** link(2) never replaces; file systems without hard links (FAT) get a checked rename. */
  private async linkExclusively(): Promise<void> {
    try {
      await link(this.temp, this.target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (
        code === 'EEXIST' ||
        ((code === 'EPERM' || code === 'ENOTSUP') && (await exists(this.target)))
      ) {
        throw new UsageError(`${this.target} appeared while writing; not replaced`);
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP') throw error;
      await rename(this.temp, this.target);
      return;
    }
    await unlink(this.temp);
  }

  async discard(): Promise<void> {
    if (this.done) return;
    await this.handle.close().catch(() => {});
    await unlink(this.temp).catch(() => {});
    this.finish();
  }

  private finish(): void {
    this.done = true;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
