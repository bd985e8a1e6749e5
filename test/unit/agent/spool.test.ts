import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAgentLogger } from '../../../agent/log.js';
import {
  DiskSpool,
  SpoolEntryTooLargeError,
  SpoolError,
  type SpoolOverflow,
} from '../../../agent/spool.js';

/**
 * Fault injection: a directory fsync that fails after the rename succeeded
 * cannot be produced on a real filesystem here, so `open` is wrapped to fail
 * the next sync of one chosen directory. Everything else is the real fs.
 */
const faults = vi.hoisted(() => ({ failDirSync: undefined as string | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof actual.open>) => {
    const handle = await actual.open(...args);
    if (faults.failDirSync !== undefined && args[0] === faults.failDirSync && args[1] === 'r') {
      faults.failDirSync = undefined;
      handle.sync = async () => {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      };
    }
    return handle;
  };
  return { ...actual, open, default: { ...actual, open } };
});

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-spool-'));
  dir = path.join(root, 'spool');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const payload = (text: string, size = 0) => Buffer.from(text.padEnd(size, '.'));

describe('DiskSpool', () => {
  it('creates a private directory and hands entries out oldest first with their payloads', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const a = await spool.append('flows', payload('a'), { records: 3 });
    const b = await spool.append('events', payload('bb'));
    const c = await spool.append('flows', payload('ccc'), { records: 1 });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(b).toMatchObject({ channel: 'events', bytes: 2, records: 0 });
    expect(path.basename(a.path)).toBe('00000000000000000001-flows-3.msg');
    expect(spool.peek(2).map((e) => e.seq)).toEqual([1, 2]);
    expect((await spool.peek(10)[2]!.read()).toString()).toBe('ccc');
    expect(spool.stats()).toEqual({
      depth_batches: 3,
      depth_bytes: 6,
      dropped_batches: 0,
      dropped_records: 0,
      rejected_batches: 0,
      rejected_bytes: 0,
      lost_batches: 0,
      lost_records: 0,
    });
  });

  it('ack removes the entry at once from peek and durably from disk; unknown acks are no-ops', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    const a = await spool.append('flows', payload('a'));
    await spool.append('flows', payload('b'));
    const acking = spool.ack(a.seq);
    expect(spool.peek(10).map((e) => e.seq)).toEqual([2]);
    await acking;
    await spool.ack(a.seq);
    await spool.ack(999);
    expect(await readdir(path.join(dir, 'entries'))).toEqual(['00000000000000000002-flows-0.msg']);
    expect(spool.stats().depth_bytes).toBe(1);
  });

  it('keeps sequences increasing across restarts, even after the spool drained', async () => {
    let spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    for (let i = 0; i < 5; i++) await spool.append('flows', payload(`m${i}`));
    for (const e of spool.peek(10)) await spool.ack(e.seq);
    expect(spool.stats().depth_batches).toBe(0);
    spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    expect((await spool.append('flows', payload('next'))).seq).toBe(6);
    spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    expect(spool.peek(10).map((e) => e.seq)).toEqual([6]);
    expect((await spool.append('metrics', payload('x'))).seq).toBe(7);
  });

  it('drops the oldest entries when full, counts them, tells onOverflow and keeps the counts across restarts', async () => {
    const lines: string[] = [];
    const overflows: SpoolOverflow[] = [];
    const logger = createAgentLogger({ write: (l) => lines.push(l) });
    let spool = await DiskSpool.open({
      dir,
      maxBytes: 1000,
      logger,
      onOverflow: (o) => overflows.push(o),
    });
    for (let i = 0; i < 4; i++)
      await spool.append('flows', payload(`${i}`, 300), { records: 10 + i });
    // 4 × 300 > 1000: the fourth append pushed out #1 only.
    expect(spool.peek(10).map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(overflows).toEqual([
      { batches: 1, records: 10, dropped_batches: 1, dropped_records: 10 },
    ]);
    await spool.append('flows', payload('big', 700), { records: 100 });
    expect(spool.peek(10).map((e) => e.seq)).toEqual([4, 5]);
    expect(spool.stats()).toMatchObject({
      depth_batches: 2,
      depth_bytes: 1000,
      dropped_batches: 3,
      dropped_records: 10 + 11 + 12,
    });
    expect(lines.some((l) => JSON.parse(l).level === 'warn' && /spool full/.test(l))).toBe(true);
    expect((await readdir(path.join(dir, 'entries'))).length).toBe(2);

    spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    expect(spool.stats()).toMatchObject({
      depth_batches: 2,
      dropped_batches: 3,
      dropped_records: 33,
    });
    // A lower bound on restart trims the backlog the same way.
    spool = await DiskSpool.open({ dir, maxBytes: 800 });
    expect(spool.peek(10).map((e) => e.seq)).toEqual([5]);
    expect(spool.stats()).toMatchObject({ dropped_batches: 4, dropped_records: 33 + 13 });
  });

  it('refuses an entry larger than the whole spool without touching what is there', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 100 });
    await spool.append('flows', payload('keep', 60));
    await expect(spool.append('flows', payload('x', 101))).rejects.toThrow(SpoolEntryTooLargeError);
    await expect(spool.append('flows', payload('x', 101))).rejects.toThrow(
      'spool entry of 101 bytes exceeds the spool bound of 100 bytes',
    );
    expect(spool.stats()).toMatchObject({ depth_batches: 1, dropped_batches: 0 });
    // The spool still works after a refusal.
    expect((await spool.append('flows', payload('y', 40))).seq).toBe(2);
  });

  it('refuses bad options and bad appends with one-line errors', async () => {
    await expect(DiskSpool.open({ dir, maxBytes: 0 })).rejects.toThrow(SpoolError);
    await expect(DiskSpool.open({ dir: '', maxBytes: 10 })).rejects.toThrow(/dir/);
    const spool = await DiskSpool.open({ dir, maxBytes: 100 });
    await expect(spool.append('nope' as never, payload('x'))).rejects.toThrow(
      /unknown uplink channel/,
    );
    await expect(spool.append('flows', payload('x'), { records: -1 })).rejects.toThrow(/records/);
  });

  it('recovers after a crash: temp files gone, every complete entry intact, order and counters kept', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    const bodies = ['alpha', 'bravo', 'charlie', 'delta'];
    for (const b of bodies) await spool.append('flows', payload(b), { records: 2 });
    await spool.ack(1);
    // What a crash mid-append leaves: a complete temp never renamed, a truncated one, and a
    // half-written state temp.
    const entries = path.join(dir, 'entries');
    await writeFile(path.join(entries, '.tmp-00000000000000000005-flows-2.msg.abcd'), 'echo');
    await writeFile(path.join(entries, '.tmp-00000000000000000006-flows-2.msg.ef01'), '');
    await writeFile(path.join(dir, '.tmp-state.json.1234'), '{"last_se');
    await writeFile(path.join(entries, 'README'), 'not an entry');

    const lines: string[] = [];
    const reopened = await DiskSpool.open({
      dir,
      maxBytes: 1000,
      logger: createAgentLogger({ write: (l) => lines.push(l) }),
    });
    const left = reopened.peek(10);
    expect(left.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(await Promise.all(left.map(async (e) => (await e.read()).toString()))).toEqual(
      bodies.slice(1),
    );
    expect(left.every((e) => e.records === 2 && e.channel === 'flows')).toBe(true);
    expect(reopened.stats()).toMatchObject({ depth_batches: 3, depth_bytes: 5 + 7 + 5 });
    expect((await readdir(entries)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(lines.some((l) => /unexpected file/.test(l))).toBe(true);
    // The interrupted appends never resolved, so their sequence numbers are simply reused.
    expect((await reopened.append('flows', payload('echo'))).seq).toBe(5);
  });

  it('parks a rejected entry in rejected/, counts it and never reuses its sequence', async () => {
    let spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    await spool.append('events', payload('poison'));
    await spool.reject(1, 'refused by broker');
    expect(spool.peek(10)).toEqual([]);
    expect(spool.stats().rejected_batches).toBe(1);
    expect(
      await readFile(path.join(dir, 'rejected', '00000000000000000001-events-0.msg'), 'utf8'),
    ).toBe('poison');
    spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    expect(spool.stats()).toMatchObject({ depth_batches: 0, rejected_batches: 1 });
    expect((await spool.append('flows', payload('ok'))).seq).toBe(2);
  });

  it('keeps order and accounting under concurrent appends and acks', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1_000_000 });
    const appended = await Promise.all(
      Array.from({ length: 50 }, (_, i) => spool.append('flows', payload(`p${i}`), { records: 1 })),
    );
    expect(appended.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await Promise.all(appended.filter((e) => e.seq % 2 === 0).map((e) => spool.ack(e.seq)));
    expect(spool.peek(100).map((e) => e.seq)).toEqual(
      appended.filter((e) => e.seq % 2 === 1).map((e) => e.seq),
    );
    expect((await readdir(path.join(dir, 'entries'))).length).toBe(25);
  });

  it('forget drops an entry whose file was deleted from outside, counts it as lost and moves on', async () => {
    const lines: string[] = [];
    const logger = createAgentLogger({ write: (l) => lines.push(l) });
    let spool = await DiskSpool.open({ dir, maxBytes: 10_000, logger });
    await spool.append('flows', payload('a'), { records: 4 });
    const b = await spool.append('flows', payload('b'), { records: 7 });
    await spool.append('flows', payload('c'), { records: 1 });
    await unlink(b.path);
    await expect(b.read()).rejects.toMatchObject({ code: 'ENOENT' });
    await spool.forget(b.seq, 'file missing');
    await spool.forget(b.seq, 'file missing'); // unknown now: a no-op
    expect(spool.has(b.seq)).toBe(false);
    expect(spool.peek(10).map((e) => e.seq)).toEqual([1, 3]);
    expect(spool.stats()).toMatchObject({ depth_batches: 2, lost_batches: 1, lost_records: 7 });
    const warning = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'spool: entry lost, skipping it');
    expect(warning).toMatchObject({ level: 'warn', seq: 2, records: 7, reason: 'file missing' });
    spool = await DiskSpool.open({ dir, maxBytes: 10_000 });
    expect(spool.stats()).toMatchObject({ depth_batches: 2, lost_batches: 1, lost_records: 7 });
  });

  it('counts rejected/ against the bound and drops the oldest rejected files first', async () => {
    const overflows: SpoolOverflow[] = [];
    let spool = await DiskSpool.open({ dir, maxBytes: 1000, onOverflow: (o) => overflows.push(o) });
    await spool.append('events', payload('r1', 300), { records: 0 });
    await spool.append('flows', payload('r2', 300), { records: 5 });
    await spool.reject(1, 'refused');
    await spool.reject(2, 'refused');
    expect(spool.stats()).toMatchObject({ depth_batches: 0, rejected_bytes: 600 });
    await spool.append('flows', payload('a', 300), { records: 1 });
    // 600 rejected + 300 + 300 > 1000: the oldest rejected file goes, the entries stay.
    await spool.append('flows', payload('b', 300), { records: 1 });
    expect(spool.peek(10).map((e) => e.seq)).toEqual([3, 4]);
    expect(await readdir(path.join(dir, 'rejected'))).toEqual(['00000000000000000002-flows-5.msg']);
    expect(spool.stats()).toMatchObject({
      rejected_batches: 2,
      rejected_bytes: 300,
      dropped_batches: 1,
      dropped_records: 0,
    });
    expect(overflows).toEqual([{ batches: 1, records: 0, dropped_batches: 1, dropped_records: 0 }]);
    // On open, too: a lower bound first empties rejected/.
    spool = await DiskSpool.open({ dir, maxBytes: 650 });
    expect(await readdir(path.join(dir, 'rejected'))).toEqual([]);
    expect(spool.peek(10).map((e) => e.seq)).toEqual([3, 4]);
    expect(spool.stats()).toMatchObject({
      rejected_bytes: 0,
      dropped_batches: 2,
      dropped_records: 5,
    });
    expect((await spool.append('flows', payload('c', 10))).seq).toBe(5);
  });

  it('drops nothing when the counters cannot be written while making room', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    for (let i = 0; i < 3; i++) await spool.append('flows', payload(`${i}`, 300), { records: 1 });
    // A directory in state.json's place makes every state write fail (EISDIR), even for root.
    await rm(path.join(dir, 'state.json'), { force: true });
    await mkdir(path.join(dir, 'state.json'));
    await expect(spool.append('flows', payload('x', 300))).rejects.toThrow();
    expect(spool.peek(10).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(spool.stats()).toMatchObject({ depth_batches: 3, depth_bytes: 900, dropped_batches: 0 });
    expect((await readdir(path.join(dir, 'entries'))).length).toBe(3);

    await rm(path.join(dir, 'state.json'), { recursive: true });
    await spool.append('flows', payload('y', 300), { records: 1 });
    expect(spool.peek(10).map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(spool.stats()).toMatchObject({ dropped_batches: 1, dropped_records: 1 });
    expect((await readdir(path.join(dir, 'entries'))).length).toBe(3);
  });

  it('removes an acknowledged entry from disk even when state.json cannot be written', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    const a = await spool.append('flows', payload('a'));
    await mkdir(path.join(dir, 'state.json'));
    await expect(spool.ack(a.seq)).rejects.toThrow();
    expect(spool.peek(10)).toEqual([]);
    expect(await readdir(path.join(dir, 'entries'))).toEqual([]);
  });

  it('never reuses a sequence number when the directory fsync fails after the rename', async () => {
    const spool = await DiskSpool.open({ dir, maxBytes: 1000 });
    await spool.append('flows', payload('a'));
    faults.failDirSync = path.join(dir, 'entries');
    await expect(spool.append('flows', payload('b'))).rejects.toThrow(/EIO/);
    const c = await spool.append('flows', payload('c'));
    expect(c.seq).toBe(3);
    // The file of the failed append is still whole, not overwritten by the next one.
    expect(
      await readFile(path.join(dir, 'entries', '00000000000000000002-flows-0.msg'), 'utf8'),
    ).toBe('b');
    const reopened = await DiskSpool.open({ dir, maxBytes: 1000 });
    expect(reopened.peek(10).map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});
