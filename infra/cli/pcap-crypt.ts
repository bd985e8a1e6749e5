import { type FileHandle, open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createKeyFile, loadKeyFile } from '../../agent/evidence/key-file.js';
import type { MasterKey } from '../../agent/evidence/master-key.js';
import { SegmentDecryptor } from '../../agent/evidence/segment-decryptor.js';
import { SegmentEncryptor } from '../../agent/evidence/segment-encryptor.js';
import {
  CIPHER_SUITES,
  type CipherSuite,
  cipherBySuite,
  EvidenceError,
  toHex,
} from '../../protocol/evidence/format.js';
import { PcapJoiner } from '../../protocol/evidence/pcap-join.js';
import type { SignedManifest } from '../../protocol/evidence/window-manifest.js';
import { checkSegmentIdentity, checkWindowFile, loadSignedManifest } from './manifest-check.js';
import { UsageError } from './options.js';
import { PendingFile } from './pending-file.js';

/**
 * `wirefleet pcap encrypt|decrypt|keygen`: evidence segments as files (format:
 * protocol/evidence/format.ts). Both directions stream in constant memory (one 256 KiB read
 * plus one 64 KiB chunk) and write through a temp file that becomes OUT only when everything
 * verified; a refusal leaves no OUT and no temp file, and exits 2 with one line saying why.
 */

export const PCAP_USAGE =
  'usage: wirefleet pcap encrypt|decrypt --key-file K [--cipher C] [--manifest M [--manifest-key ID]] [--force] IN -o OUT | pcap keygen -o K (see wirefleet help)';

const READ_SIZE = 256 * 1024;

interface CryptValues {
  'key-file'?: string;
  out?: string;
  cipher?: string;
  force?: boolean;
  manifest?: string;
  'manifest-key'?: string;
}

/** Dispatches `wirefleet pcap ...`; returns the exit code (errors are thrown to main). */
export async function runPcapCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'keygen') {
    const { values } = parseArgs({
      args: rest,
      options: { out: { type: 'string', short: 'o' } },
      strict: true,
    });
    runKeygen(values);
    return 0;
  }
  if (sub !== 'encrypt' && sub !== 'decrypt') throw new UsageError(PCAP_USAGE);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      'key-file': { type: 'string', short: 'k' },
      out: { type: 'string', short: 'o' },
      cipher: { type: 'string' },
      force: { type: 'boolean' },
      manifest: { type: 'string' },
      'manifest-key': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError(`pcap ${sub} takes one input file IN`);
  if (!values['key-file']) throw new UsageError(`pcap ${sub} needs --key-file K`);
  if (!values.out) throw new UsageError(`pcap ${sub} needs -o OUT`);
  if (sub === 'decrypt' && values.cipher !== undefined) {
    throw new UsageError('pcap decrypt takes no --cipher: each segment names its own');
  }
  if (sub === 'encrypt' && values.manifest !== undefined) {
    throw new UsageError('pcap encrypt takes no --manifest: windows come from the cloud');
  }
  if (values['manifest-key'] !== undefined && values.manifest === undefined) {
    throw new UsageError('--manifest-key pins the key of a --manifest');
  }
  const input = positionals[0]!;
  if (sub === 'encrypt') await encryptFile(input, values);
  else await decryptFile(input, values);
  return 0;
}

/** `wirefleet keygen --out K` / `wirefleet pcap keygen -o K`. */
export function runKeygen(values: { out?: string }): void {
  if (!values.out) throw new UsageError('keygen needs -o K (--out K)');
  const key = createKeyFile(values.out);
  process.stderr.write(
    `wirefleet: wrote key file ${values.out} (mode 0600, key id ${toHex(key.id)})\n`,
  );
}

function parseCipher(value: string | undefined): CipherSuite {
  if (value === undefined) return 'AES-256-GCM';
  const spec = cipherBySuite(value);
  if (!spec) {
    throw new UsageError(`--cipher must be one of ${CIPHER_SUITES.join(', ')}, got "${value}"`);
  }
  return spec.suite;
}

async function openInput(file: string): Promise<FileHandle> {
  try {
    const handle = await open(file, 'r');
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw new UsageError(`${file} is a directory`);
    }
    return handle;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
}

/** Reads a file in fresh buffers (the decryptor keeps references to what it was given). */
async function* readChunks(handle: FileHandle): AsyncGenerator<Buffer> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/** Runs `work` against a pending OUT: committed if it returns, discarded if it throws. */
async function withPendingOutput(
  target: string,
  replace: boolean,
  work: (out: PendingFile) => Promise<void>,
): Promise<void> {
  const out = await PendingFile.create(target, replace);
  try {
    await work(out);
  } catch (error) {
    await out.discard();
    throw error;
  }
  await out.commit();
}

async function encryptFile(input: string, values: CryptValues): Promise<void> {
  const cipher = parseCipher(values.cipher);
  const master = loadKeyFile(values['key-file']!);
  const handle = await openInput(input);
  try {
    let encryptor: SegmentEncryptor | undefined;
    await withPendingOutput(values.out!, values.force ?? false, async (out) => {
      encryptor = new SegmentEncryptor(master, { cipher });
      await out.write([encryptor.header]);
      for await (const bytes of readChunks(handle)) await out.write(encryptor.push(bytes));
      await out.write(encryptor.finish());
    });
    const e = encryptor!;
    process.stderr.write(
      `wirefleet: encrypted ${input} -> ${values.out}: ${e.plaintextBytes} bytes, ${e.cipher.suite}, key id ${toHex(master.id)}, segment id ${toHex(e.segmentId)}\n`,
    );
  } finally {
    await handle.close();
  }
}

async function decryptFile(input: string, values: CryptValues): Promise<void> {
  const master = loadKeyFile(values['key-file']!);
  const signed = values.manifest
    ? await loadSignedManifest(values.manifest, values['manifest-key'])
    : undefined;
  const handle = await openInput(input);
  const stats = { segments: 0, bytes: 0, ciphers: new Set<string>() };
  try {
    // With a manifest, the whole file is checked against it before any plaintext is made.
    if (signed) await checkWindowFile(handle, signed.manifest);
    await withPendingOutput(values.out!, values.force ?? false, (out) =>
      decryptInto(handle, master, out, stats, signed),
    );
  } catch (error) {
    if (error instanceof EvidenceError) {
      throw new EvidenceError(
        error.reason,
        `${input}: ${error.message}; nothing was written`,
        error.where,
      );
    }
    throw error;
  } finally {
    await handle.close();
  }
  process.stderr.write(
    `wirefleet: decrypted ${input} -> ${values.out}: ${stats.segments} segment${stats.segments === 1 ? '' : 's'} (${[...stats.ciphers].join(', ')}, key id ${toHex(master.id)}), ${stats.bytes} bytes${stats.segments > 1 ? ' joined into one pcap' : ''}; ${manifestNote(signed, stats.segments)}\n`,
  );
}

/** What was and was not proven about the window's composition. */
function manifestNote(signed: SignedManifest | undefined, segments: number): string {
  if (!signed) {
    return segments > 1
      ? 'each segment verified, their order and completeness not (no --manifest)'
      : 'segment verified';
  }
  const m = signed.manifest;
  const gaps = Object.entries(m.missing_seqs)
    .filter(([, seqs]) => seqs.length > 0)
    .map(([agent, seqs]) => `${agent} seq ${seqs.join(',')}`);
  return `window ${m.window_id} matches its manifest (signed by key ${signed.signature.key_id}, tenant ${m.tenant}, agents ${m.agent_ids.join(',')})${gaps.length ? `; the cloud holds no segment for ${gaps.join('; ')}` : ''}`;
}

async function decryptInto(
  handle: FileHandle,
  master: MasterKey,
  out: PendingFile,
  stats: { segments: number; bytes: number; ciphers: Set<string> },
  signed?: SignedManifest,
): Promise<void> {
  const decryptor = new SegmentDecryptor(master);
  const joiner = new PcapJoiner();
  for await (const bytes of readChunks(handle)) {
    const writes: Uint8Array[] = [];
    for (const event of decryptor.push(bytes)) {
      if (event.type === 'segment') {
        if (signed) checkSegmentIdentity(signed.manifest.segments, event.index, event.header);
        joiner.begin(event.index);
        stats.segments = event.index;
        stats.ciphers.add(event.header.cipher.suite);
      } else if (event.type === 'plaintext') {
        writes.push(...joiner.push(event.bytes));
      } else {
        joiner.end();
      }
    }
    for (const w of writes) stats.bytes += w.length;
    await out.write(writes);
  }
  decryptor.end();
  if (signed && stats.segments !== signed.manifest.segments.length) {
    throw new EvidenceError(
      'manifest',
      `the file holds ${stats.segments} segments, the manifest ${signed.manifest.segments.length}`,
    );
  }
  const patch = joiner.patch();
  if (patch) await out.writeAt(patch.offset, patch.bytes);
}
