import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UPLINK_CHANNELS, type UplinkChannel } from '../../protocol/agent-messages.js';

/** File naming and durable writes for the disk spool (see spool.ts for the layout). */

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

const ENTRY_NAME = /^(\d{20})-([a-z]+)-(\d+)\.msg$/;
export const TEMP_PREFIX = '.tmp-';

export function entryName(seq: number, channel: UplinkChannel, records: number): string {
  return `${String(seq).padStart(20, '0')}-${channel}-${records}.msg`;
}

/** The sequence, channel and record count an entry's file name holds, or undefined. */
export function parseEntryName(
  name: string,
): { seq: number; channel: UplinkChannel; records: number } | undefined {
  const match = ENTRY_NAME.exec(name);
  if (!match || !isChannel(match[2]!)) return undefined;
  return { seq: Number(match[1]), channel: match[2], records: Number(match[3]) };
}

export function isChannel(value: string): value is UplinkChannel {
  return (UPLINK_CHANNELS as readonly string[]).includes(value);
}

export function makeEntry(
  dir: string,
  seq: number,
  channel: UplinkChannel,
  bytes: number,
  records: number,
): SpoolEntry {
  const file = path.join(dir, entryName(seq, channel, records));
  return { seq, channel, bytes, records, path: file, read: () => readFile(file) };
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** temp file + fsync + rename + directory fsync: after this resolves the file survives power loss. */
export async function writeFileDurably(
  dir: string,
  name: string,
  data: Buffer | string,
): Promise<void> {
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
  try {
    await rename(temp, path.join(dir, name));
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

export function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
