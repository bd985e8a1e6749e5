import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createKeyFile } from '../agent/evidence/key-file.js';
import type { MasterKey } from '../agent/evidence/master-key.js';
import { SegmentDecryptor } from '../agent/evidence/segment-decryptor.js';
import { SegmentEncryptor } from '../agent/evidence/segment-encryptor.js';
import { CIPHER_SUITES, type CipherSuite, cipherBySuite } from '../protocol/evidence/format.js';
import { type BenchRow, MB, now } from './stats.js';

const run = promisify(execFile);
/** Plaintext size; BENCH_EVIDENCE_MB overrides it (a quick run). */
const SIZE_MB = Number(process.env.BENCH_EVIDENCE_MB ?? 256);
const ROUNDS = 3;
const MEMORY_ROUNDS = 5;
const PIECE = 256 * 1024;
const CLI = path.resolve(import.meta.dirname, '..', 'bin', 'wirefleet.js');

/** openssl enc cannot run AEAD modes: the peer is the same cipher without authentication. */
const OPENSSL_ENC_PEER: Record<CipherSuite, string> = {
  'AES-256-GCM': 'aes-256-ctr',
  'AES-128-GCM': 'aes-128-ctr',
  'ChaCha20-Poly1305': 'chacha20',
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
const f0 = (n: number) => n.toFixed(0);
const f2 = (n: number) => n.toFixed(2);

function encryptInMemory(master: MasterKey, data: Buffer, cipher: CipherSuite): Buffer[] {
  const e = new SegmentEncryptor(master, { cipher });
  const out: Buffer[] = [e.header];
  for (let at = 0; at < data.length; at += PIECE)
    out.push(...e.push(data.subarray(at, at + PIECE)));
  out.push(...e.finish());
  return out;
}

function decryptInMemory(master: MasterKey, sealed: Buffer): number {
  const d = new SegmentDecryptor(master);
  let bytes = 0;
  for (let at = 0; at < sealed.length; at += PIECE) {
    for (const e of d.push(sealed.subarray(at, at + PIECE))) {
      if (e.type === 'plaintext') bytes += e.bytes.length;
    }
  }
  d.end();
  return bytes;
}

/** OpenSSL's own AEAD loop over 64 KiB buffers, encrypt only (bytes/s), or undefined. */
async function opensslSpeed(algorithm: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('openssl', [
      'speed',
      '-mr',
      '-evp',
      algorithm,
      '-bytes',
      '65536',
      '-seconds',
      '2',
    ]);
    const line = stdout.split('\n').find((l) => l.startsWith('+F:'));
    return line ? Number(line.split(':').at(-1)) : undefined;
  } catch {
    return undefined;
  }
}

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME);

/** Wall time (ms) and peak RSS (MB, through GNU time when installed, else NaN) of a process. */
async function timed(command: string, args: string[]): Promise<{ ms: number; rssMb: number }> {
  const t0 = now();
  const [file, argv] = hasGnuTime
    ? [GNU_TIME, ['-f', 'maxrss_kb=%M', command, ...args]]
    : [command, args];
  const { stderr } = await run(file, argv, { env: { ...process.env, NODE_OPTIONS: '' } });
  const ms = now() - t0;
  const kb = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1] ?? Number.NaN);
  return { ms, rssMb: kb / 1024 };
}

async function hasCommand(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= 16 * MB) {
    if (!out.write(randomBytes(Math.min(left, 16 * MB)))) {
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end((e?: Error | null) => (e ? reject(e) : resolve())),
  );
}

/**
 * Evidence encryption throughput per cipher, three ways, in one run on the same data:
 * - in memory: SegmentEncryptor/SegmentDecryptor against `openssl speed -evp` (OpenSSL's own
 *   loop over the same AEAD, the library Node's crypto uses): what the format and JS cost;
 * - file to file: `wirefleet pcap encrypt|decrypt` processes against `openssl enc` with the same
 *   cipher unauthenticated (enc refuses AEAD modes), same input file, median of 3 alternating
 *   rounds, process start included in both;
 * - age (ChaCha20-Poly1305 in 64 KiB chunks, the closest design) when installed.
 */
export async function evidenceBench(
  report: (row: BenchRow) => void = () => {},
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (row: BenchRow) => {
    report(row);
    rows.push(row);
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-evidence-bench-'));
  try {
    const bytes = Math.round(SIZE_MB * MB);
    const input = path.join(dir, 'plain.bin');
    await writeRandomFile(input, bytes);
    const keyFile = path.join(dir, 'capture.key');
    const master = createKeyFile(keyFile);
    const hexKey = (n: number) => randomBytes(n).toString('hex');
    const memory = randomBytes(Math.min(bytes, 64 * MB));

    for (const cipher of CIPHER_SUITES) {
      const spec = cipherBySuite(cipher)!;
      // In memory: one untimed round warms the JIT; the sealed parts are not joined while timed.
      const enc: number[] = [];
      const dec: number[] = [];
      for (let r = 0; r <= MEMORY_ROUNDS; r++) {
        let t0 = now();
        const parts = encryptInMemory(master, memory, cipher);
        const encMs = now() - t0;
        const sealed = Buffer.concat(parts);
        t0 = now();
        if (decryptInMemory(master, sealed) !== memory.length)
          throw new Error('round trip lost bytes');
        const decMs = now() - t0;
        if (r === 0) continue;
        enc.push(encMs);
        dec.push(decMs);
      }
      const ours = mbps(memory.length, median(enc));
      const oursDec = mbps(memory.length, median(dec));
      const speed = await opensslSpeed(spec.algorithm);
      const speedMb = speed === undefined ? undefined : speed / MB;
      add({
        name: `${cipher} encrypt in memory (${f0(memory.length / MB)} MB)`,
        value: ours,
        unit: 'MB/s',
        note:
          `decrypt ${f0(oursDec)} MB/s (medians of ${MEMORY_ROUNDS} after a warm-up); ` +
          (speedMb === undefined
            ? 'openssl speed unavailable: no peer figure'
            : `openssl speed -evp ${spec.algorithm} (64 KiB buffers, encrypt) ${f0(speedMb)} MB/s: encrypt ${f2(ours / speedMb)}×, decrypt ${f2(oursDec / speedMb)}× OpenSSL's own loop`),
      });

      // File to file, processes.
      const sealedFile = path.join(dir, 'sealed.wfe');
      const plainOut = path.join(dir, 'plain.out');
      const peerOut = path.join(dir, 'peer.enc');
      const peerBack = path.join(dir, 'peer.dec');
      const key = hexKey(spec.keyLength);
      const iv = hexKey(16);
      const peer = OPENSSL_ENC_PEER[cipher];
      const ourEnc: number[] = [];
      const ourDec: number[] = [];
      const peerEnc: number[] = [];
      const peerDec: number[] = [];
      let decRss = 0;
      for (let r = 0; r < ROUNDS; r++) {
        for (const f of [sealedFile, plainOut, peerOut, peerBack]) await unlink(f).catch(() => {});
        ourEnc.push(
          (
            await timed(process.execPath, [
              CLI,
              'pcap',
              'encrypt',
              '--key-file',
              keyFile,
              '--cipher',
              cipher,
              input,
              '-o',
              sealedFile,
            ])
          ).ms,
        );
        peerEnc.push(
          (
            await timed('openssl', [
              'enc',
              `-${peer}`,
              '-K',
              key,
              '-iv',
              iv,
              '-in',
              input,
              '-out',
              peerOut,
            ])
          ).ms,
        );
        const d = await timed(process.execPath, [
          CLI,
          'pcap',
          'decrypt',
          '--key-file',
          keyFile,
          sealedFile,
          '-o',
          plainOut,
        ]);
        ourDec.push(d.ms);
        decRss = Math.max(decRss, d.rssMb);
        peerDec.push(
          (
            await timed('openssl', [
              'enc',
              '-d',
              `-${peer}`,
              '-K',
              key,
              '-iv',
              iv,
              '-in',
              peerOut,
              '-out',
              peerBack,
            ])
          ).ms,
        );
      }
      if ((await stat(plainOut)).size !== bytes) throw new Error('decrypt wrote the wrong size');
      const oe = mbps(bytes, median(ourEnc));
      const od = mbps(bytes, median(ourDec));
      const pe = mbps(bytes, median(peerEnc));
      const pd = mbps(bytes, median(peerDec));
      add({
        name: `${cipher} wirefleet pcap encrypt vs openssl enc -${peer}, ${SIZE_MB} MB file to file`,
        value: oe / pe,
        unit: '× openssl enc speed',
        note: `encrypt: wirefleet ${f0(oe)} MB/s, openssl enc ${f0(pe)} MB/s (no authentication); decrypt (verifies every chunk, temp file + rename): wirefleet ${f0(od)} MB/s (${f2(od / pd)}×), openssl enc -d ${f0(pd)} MB/s; decrypt peak RSS ${f0(decRss)} MB for a ${SIZE_MB} MB file; medians of ${ROUNDS}; process start included, and wirefleet fsyncs OUT before renaming it (openssl enc does not)`,
      });
    }

    // age: the same kind of format (ChaCha20-Poly1305, 64 KiB chunks), if installed.
    if ((await hasCommand('age', ['--version'])) && (await hasCommand('age-keygen', ['--help']))) {
      const identity = path.join(dir, 'age.key');
      await run('age-keygen', ['-o', identity]);
      const { stdout: recipient } = await run('age-keygen', ['-y', identity]);
      const ageOut = path.join(dir, 'age.out');
      const sealedFile = path.join(dir, 'sealed.wfe');
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        for (const f of [sealedFile, ageOut]) await unlink(f).catch(() => {});
        ours.push(
          (
            await timed(process.execPath, [
              CLI,
              'pcap',
              'encrypt',
              '--key-file',
              keyFile,
              '--cipher',
              'ChaCha20-Poly1305',
              input,
              '-o',
              sealedFile,
            ])
          ).ms,
        );
        theirs.push((await timed('age', ['-r', recipient.trim(), '-o', ageOut, input])).ms);
      }
      const o = mbps(bytes, median(ours));
      const a = mbps(bytes, median(theirs));
      add({
        name: `ChaCha20-Poly1305 wirefleet pcap encrypt vs age, ${SIZE_MB} MB file to file`,
        value: o / a,
        unit: '× age speed',
        note: `wirefleet ${f0(o)} MB/s, age ${f0(a)} MB/s (X25519 recipient, ChaCha20-Poly1305 in 64 KiB chunks); medians of ${ROUNDS}`,
      });
    } else {
      console.log(
        'age is not installed: the age peer is skipped (apt-get install age to include it)',
      );
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
