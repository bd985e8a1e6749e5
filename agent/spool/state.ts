import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentLogger } from '../log.js';
import { writeFileDurably } from './files.js';

/** The spool's counters and last sequence, kept in state.json (written atomically). */
export interface SpoolState {
  last_seq: number;
  dropped_batches: number;
  dropped_records: number;
  rejected_batches: number;
  /** Entries whose file vanished before it was sent (deleted from outside). */
  lost_batches: number;
  lost_records: number;
}

const STATE_FILE = 'state.json';

function freshState(): SpoolState {
  return {
    last_seq: 0,
    dropped_batches: 0,
    dropped_records: 0,
    rejected_batches: 0,
    lost_batches: 0,
    lost_records: 0,
  };
}

export function writeState(dir: string, state: SpoolState): Promise<void> {
  return writeFileDurably(dir, STATE_FILE, `${JSON.stringify(state)}\n`);
}

export async function readState(dir: string, logger: AgentLogger): Promise<SpoolState> {
  let text: string;
  try {
    text = await readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return freshState();
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<SpoolState>;
    const count = (value: unknown) =>
      typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
    const state = freshState();
    for (const key of Object.keys(state) as Array<keyof SpoolState>)
      state[key] = count(parsed[key]);
    return state;
  } catch {
    // Written atomically, so this is outside interference; the entries themselves are still intact.
    logger.warn('spool: state.json unreadable, counters restart at 0', { dir });
    return freshState();
  }
}
