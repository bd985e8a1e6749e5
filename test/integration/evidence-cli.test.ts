import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_SIZE, CIPHER_SUITES } from '../../protocol/evidence/format.js';
import { encodePcapHeader, encodePcapRecord, LINKTYPE_RAW } from '../../protocol/pcap.js';
import { writePcap } from '../helpers/capture-gen.js';
import { manyFlowsScenario } from '../helpers/capture-scenarios.js';
import { tshark } from '../helpers/tshark.js';
import { flipBit, layoutOf, patternBytes } from '../unit/evidence/segment-helpers.js';

// `wirefleet pcap encrypt|decrypt|keygen` run as real processes on real files; tshark reads
// what decrypt writes. Every refusal must exit 2 with one line and leave its output directory
// empty: no OUT, no temp file.

const CLI = path.resolve('bin/wirefleet.js');
let dir: string;
let key: string;
let caseNo = 0;

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A fresh, empty directory for one command's output. */
function outDir(): string {
  const d = path.join(dir, `out-${caseNo++}`);
  mkdirSync(d);
  return d;
}

function file(name: string, content: Uint8Array): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

async function encrypt(input: string, cipher: string, keyFile = key): Promise<string> {
  const out = path.join(outDir(), 'segment.wfe');
  const run = await cli([
    'pcap',
    'encrypt',
    '--key-file',
    keyFile,
    '--cipher',
    cipher,
    input,
    '-o',
    out,
  ]);
  expect(run.code, run.stderr).toBe(0);
  return out;
}

async function decryptOk(input: string, keyFile = key): Promise<{ out: string; run: Exit }> {
  const out = path.join(outDir(), 'plain.pcap');
  const run = await cli(['pcap', 'decrypt', '--key-file', keyFile, input, '-o', out]);
  expect(run.code, run.stderr).toBe(0);
  expect(statSync(out).mode & 0o777).toBe(0o600);
  return { out, run };
}

/** Refused: exit 2, one line naming the reason, and nothing at all in the output directory. */
async function expectRefused(args: string[], message: string | RegExp): Promise<string> {
  const where = outDir();
  const out = path.join(where, 'plain.pcap');
  const run = await cli([...args, '-o', out]);
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^wirefleet: /);
  expect(lines[0]).toMatch(message);
  expect(readdirSync(where)).toEqual([]);
  return lines[0]!;
}

const decryptRefused = (input: string, message: string | RegExp, keyFile = key) =>
  expectRefused(['pcap', 'decrypt', '--key-file', keyFile, input], message);

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-evidence-cli-'));
  key = path.join(dir, 'keys', 'capture.key');
  const run = await cli(['pcap', 'keygen', '-o', key]);
  expect(run.code, run.stderr).toBe(0);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('wirefleet pcap keygen', () => {
  it('writes a 0600 hex key, names its key id, and never replaces a key', async () => {
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const text = readFileSync(key, 'utf8');
    expect(text).toMatch(/^[0-9a-f]{64}\n$/);
    const again = await cli(['pcap', 'keygen', '-o', key]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; refusing to replace a key/);
    expect(readFileSync(key, 'utf8')).toBe(text);
    const other = path.join(dir, 'keys', 'other.key');
    const alias = await cli(['keygen', '--out', other]);
    expect(alias.code, alias.stderr).toBe(0);
    expect(alias.stderr).toMatch(
      /^wirefleet: wrote key file .* \(mode 0600, key id [0-9a-f]{32}\)\n$/,
    );
    expect(readFileSync(other, 'utf8')).not.toBe(text);
  });
});

describe('wirefleet pcap encrypt and decrypt: round trips', () => {
  const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * 1024 * 1024 + 3];
  it.each(CIPHER_SUITES)('%s gives back the exact bytes for every size', async (cipher) => {
    for (const size of sizes) {
      const plain = patternBytes(size, size);
      const input = file(`plain-${cipher}-${size}`, plain);
      const sealed = await encrypt(input, cipher);
      expect(statSync(sealed).mode & 0o777).toBe(0o600);
      const { out, run } = await decryptOk(sealed);
      expect(readFileSync(out).equals(plain), `${cipher} ${size}`).toBe(true);
      expect(run.stderr).toMatch(
        new RegExp(`1 segment \\(${cipher}, key id [0-9a-f]{32}\\), ${size} bytes`),
      );
    }
  });

  it.each(CIPHER_SUITES)(
    '%s: tshark reads the decrypted capture as it read the original',
    async (cipher) => {
      const capture = file(`flows-${cipher}.pcap`, writePcap(manyFlowsScenario(3000).frames));
      const sealed = await encrypt(capture, cipher);
      const { out } = await decryptOk(sealed);
      expect(readFileSync(out).equals(readFileSync(capture))).toBe(true);
      const fields = [
        '-T',
        'fields',
        '-e',
        'frame.time_epoch',
        '-e',
        'ip.src',
        '-e',
        'udp.srcport',
      ];
      const decoded = await tshark(out, fields);
      expect(decoded.split('\n').filter(Boolean)).toHaveLength(6000);
      expect(decoded).toBe(await tshark(capture, fields));
    },
  );

  it('joins concatenated segments (one per cipher) into one pcap that tshark reads', async () => {
    const frames = manyFlowsScenario(600).frames;
    const thirds = [frames.slice(0, 400), frames.slice(400, 900), frames.slice(900)];
    const sealed = await Promise.all(
      thirds.map(async (part, i) =>
        readFileSync(await encrypt(file(`third-${i}.pcap`, writePcap(part)), CIPHER_SUITES[i]!)),
      ),
    );
    const window = file('window.wfe', Buffer.concat(sealed));
    const { out, run } = await decryptOk(window);
    expect(run.stderr).toMatch(
      /3 segments \(AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305, key id [0-9a-f]+\), \d+ bytes joined into one pcap; each segment verified, their order and completeness not \(no --manifest\)\n$/,
    );
    expect(readFileSync(out).equals(Buffer.from(writePcap(frames)))).toBe(true);
    expect(
      (await tshark(out, ['-T', 'fields', '-e', 'frame.number'])).trim().split('\n'),
    ).toHaveLength(1200);

    // Segments of another link type cannot share the pcap: refused, nothing written.
    const raw = Buffer.concat([
      encodePcapHeader({ linktype: LINKTYPE_RAW }),
      encodePcapRecord({ timestampNs: 1n, data: new Uint8Array(20) }, 'micro'),
    ]);
    const rawSealed = readFileSync(await encrypt(file('raw.pcap', raw), 'AES-256-GCM'));
    await decryptRefused(
      file('mixed.wfe', Buffer.concat([sealed[0]!, rawSealed])),
      /segment 2 has link type 101, segment 1 has 1; they cannot share one pcap; nothing was written$/,
    );
  });

  it('--force replaces an existing OUT; without it OUT is left alone', async () => {
    const sealed = await encrypt(file('force-in', patternBytes(100, 1)), 'AES-256-GCM');
    const where = outDir();
    const out = path.join(where, 'existing');
    writeFileSync(out, 'keep me');
    const refused = await cli(['pcap', 'decrypt', '--key-file', key, sealed, '-o', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists \(use --force to replace it\)/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const forced = await cli(['pcap', 'decrypt', '--key-file', key, '--force', sealed, '-o', out]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(out).equals(patternBytes(100, 1))).toBe(true);
    expect(readdirSync(where)).toEqual(['existing']);
  });
});

describe('wirefleet pcap decrypt refuses altered input and writes nothing', () => {
  const size = 3 * CHUNK_SIZE + CHUNK_SIZE / 2;
  let sealed: Buffer;
  let layout: ReturnType<typeof layoutOf>;
  let n = 0;
  const altered = (bytes: Uint8Array) => file(`altered-${n++}.wfe`, bytes);

  beforeAll(async () => {
    sealed = readFileSync(await encrypt(file('victim', patternBytes(size, 77)), 'AES-256-GCM'));
    layout = layoutOf(sealed, size);
  });

  it('a flipped bit in the header', async () => {
    await decryptRefused(altered(flipBit(sealed, 50)), /segment 1: header failed authentication/);
    await decryptRefused(altered(flipBit(sealed, 30)), /segment 1: header failed authentication/);
    await decryptRefused(
      altered(flipBit(sealed, 13)),
      /wrong key: segment 1 was encrypted under key id/,
    );
    await decryptRefused(altered(flipBit(sealed, 8)), /format version 0 is not supported/);
    await decryptRefused(
      altered(flipBit(sealed, 2)),
      /not a wirefleet evidence segment \(bad magic\)/,
    );
  });

  it('a flipped bit in every chunk and every tag', async () => {
    for (const [i, c] of layout.chunks.entries()) {
      const message = new RegExp(
        `^wirefleet: .*: segment 1: chunk ${i + 1} failed authentication .*; nothing was written$`,
      );
      await decryptRefused(altered(flipBit(sealed, c.body + 100)), message);
      await decryptRefused(altered(flipBit(sealed, c.tag + 15, 7)), message);
    }
    await decryptRefused(
      altered(flipBit(sealed, layout.chunks[1]!.word + 3)),
      /segment 1: chunk 2: invalid length word 0x10001/,
    );
  });

  it('truncation at and between chunk boundaries', async () => {
    for (const c of layout.chunks) {
      await decryptRefused(altered(sealed.subarray(0, c.start)), /truncated: no final chunk/);
      await decryptRefused(altered(sealed.subarray(0, c.body + 10)), /truncated inside chunk/);
    }
    await decryptRefused(altered(sealed.subarray(0, 60)), /truncated header/);
  });

  it('chunks swapped within the file and with another file', async () => {
    const part = (b: Buffer, i: number) =>
      b.subarray(layout.chunks[i]!.start, layout.chunks[i]!.end);
    const header = sealed.subarray(0, layout.headerLength);
    await decryptRefused(
      altered(
        Buffer.concat([header, part(sealed, 0), part(sealed, 2), part(sealed, 1), part(sealed, 3)]),
      ),
      /segment 1: chunk 2 failed authentication/,
    );
    const other = readFileSync(
      await encrypt(file('other-victim', patternBytes(size, 77)), 'AES-256-GCM'),
    );
    await decryptRefused(
      altered(
        Buffer.concat([header, part(sealed, 0), part(other, 1), part(sealed, 2), part(sealed, 3)]),
      ),
      /segment 1: chunk 2 failed authentication/,
    );
  });

  it('trailing data, and input that is no segment at all', async () => {
    await decryptRefused(
      altered(Buffer.concat([sealed, Buffer.from('extra')])),
      /trailing data after segment 1 \(at byte \d+\)/,
    );
    await decryptRefused(
      file('plain.pcap', writePcap(manyFlowsScenario(2).frames)),
      /not a wirefleet evidence segment/,
    );
    await decryptRefused(file('empty', new Uint8Array(0)), /input is empty/);
  });

  it('the wrong key, named as such', async () => {
    const wrong = path.join(dir, 'keys', 'wrong.key');
    expect((await cli(['pcap', 'keygen', '-o', wrong])).code).toBe(0);
    const victim = altered(sealed);
    await decryptRefused(
      victim,
      /wrong key: segment 1 was encrypted under key id [0-9a-f]{32}, the key file's key id is [0-9a-f]{32}/,
      wrong,
    );
  });
});

describe('key files and usage', () => {
  it('refuses a key file that others can read, naming it and its mode', async () => {
    const loose = path.join(dir, 'keys', 'loose.key');
    writeFileSync(loose, readFileSync(key));
    chmodSync(loose, 0o644);
    const input = file('loose-in', patternBytes(10, 2));
    await expectRefused(
      ['pcap', 'encrypt', '--key-file', loose, input],
      `key file ${loose}: readable by group or others (mode 0644); run chmod 600 ${loose}`,
    );
    const sealed = await encrypt(input, 'AES-256-GCM');
    await decryptRefused(sealed, /readable by group or others \(mode 0644\)/, loose);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a key file owned by another user (run as root, so the test can chown)',
    async () => {
      const foreign = path.join(dir, 'keys', 'foreign.key');
      writeFileSync(foreign, readFileSync(key), { mode: 0o600 });
      chownSync(foreign, 54321, 54321);
      await expectRefused(
        ['pcap', 'encrypt', '--key-file', foreign, file('foreign-in', patternBytes(10, 3))],
        /owned by uid 54321/,
      );
    },
  );

  it.each([
    [['pcap'], /usage: wirefleet pcap encrypt/],
    [['pcap', 'shred'], /usage: wirefleet pcap encrypt/],
    [['pcap', 'encrypt', '--key-file', 'K', 'IN'], /needs -o OUT/],
    [['pcap', 'decrypt', 'IN', '-o', 'OUT'], /needs --key-file K/],
    [['pcap', 'decrypt', '--key-file', 'K', 'A', 'B', '-o', 'OUT'], /takes one input file/],
    [
      ['pcap', 'encrypt', '--key-file', 'K', '--cipher', 'aes-256-cbc', 'IN', '-o', 'OUT'],
      /--cipher must be one of AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305/,
    ],
    [
      ['pcap', 'decrypt', '--key-file', 'K', '--cipher', 'AES-128-GCM', 'IN', '-o', 'OUT'],
      /takes no --cipher/,
    ],
    [['pcap', 'encrypt', '--bogus'], /Unknown option/],
    [['keygen'], /keygen needs -o K/],
  ])('usage error %j exits 2 with one line', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });

  it('a missing input file exits 2 and writes nothing', async () => {
    await expectRefused(
      ['pcap', 'decrypt', '--key-file', key, path.join(dir, 'absent.wfe')],
      /cannot read .*absent\.wfe: no such file/,
    );
  });
});

describe('an interrupted decrypt', () => {
  it('removes its temp file (which held verified chunks) and leaves no OUT', async () => {
    const size = 3 * 1024 * 1024;
    const sealed = readFileSync(await encrypt(file('long', patternBytes(size, 8)), 'AES-256-GCM'));
    // A FIFO, so the test decides how far the input goes before the signal.
    const fifo = path.join(dir, 'input.fifo');
    const mk = spawn('mkfifo', ['-m', '0600', fifo]);
    expect((await once(mk, 'exit'))[0]).toBe(0);
    const where = outDir();
    const out = path.join(where, 'plain.pcap');
    const child = spawn(
      process.execPath,
      [CLI, 'pcap', 'decrypt', '--key-file', key, fifo, '-o', out],
      {
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const writer = createWriteStream(fifo);
    writer.on('error', () => {}); // EPIPE once the reader is gone
    writer.write(sealed.subarray(0, 1024 * 1024));
    // Wait (no deadline but the test's) until verified plaintext has reached the temp file.
    const partialSize = () => {
      const temp = readdirSync(where).find((f) => f.endsWith('.partial'));
      return temp ? statSync(path.join(where, temp)).size : 0;
    };
    while (partialSize() === 0) await sleep(20);
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    writer.destroy();
    // It dies of the signal (a shell reports 143), even with a read still waiting on the FIFO.
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    expect(stderr).toMatch(/interrupted; .*plain\.pcap was not written/);
    expect(readdirSync(where)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });
});
