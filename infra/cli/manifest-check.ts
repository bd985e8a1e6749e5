import { createHash, createPublicKey, verify } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { EvidenceError, type SegmentHeader, toHex } from '../../protocol/evidence/format.js';
import {
  canonicalManifestBytes,
  type SignedManifest,
  signedManifestSchema,
  type WindowEntry,
} from '../../protocol/evidence/window-manifest.js';
import { UsageError } from './options.js';

const READ_SIZE = 256 * 1024;

const refuse = (message: string) => new EvidenceError('manifest', message);

/**
 * Reads a window manifest (the JSON GET /segments/download answered, or just its manifest and
 * signature) and checks its Ed25519 signature, and that the key is the pinned one when a key id
 * is given.
 */
export async function loadSignedManifest(
  file: string,
  pinnedKeyId?: string,
): Promise<SignedManifest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read manifest ${file}: ${(error as Error).message}`);
  }
  const parsed = signedManifestSchema.safeParse(json);
  if (!parsed.success) throw refuse(`${file} is not a wirefleet window manifest`);
  const { manifest, signature } = parsed.data;
  const spki = Buffer.from(signature.public_key, 'base64');
  const keyId = createHash('sha256').update(spki).digest('hex').slice(0, 32);
  if (keyId !== signature.key_id) throw refuse('manifest key id does not match its public key');
  if (pinnedKeyId !== undefined && pinnedKeyId.toLowerCase() !== keyId) {
    throw refuse(`manifest is signed by key ${keyId}, not the pinned ${pinnedKeyId}`);
  }
  let ok = false;
  try {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    ok = verify(
      null,
      canonicalManifestBytes(manifest),
      key,
      Buffer.from(signature.value, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw refuse('manifest signature does not verify (altered, or not signed by this key)');
  let offset = 0;
  for (const [i, entry] of manifest.segments.entries()) {
    if (entry.offset !== offset)
      throw refuse(`manifest entry ${i + 1} is not where the previous ends`);
    offset += entry.bytes;
  }
  if (offset !== manifest.bytes) throw refuse('manifest entries do not add up to its size');
  return parsed.data;
}

/**
 * Checks the window file against the manifest before anything is decrypted: exactly its size,
 * and every entry's byte range hashes to the entry's SHA-256 (so no segment was dropped, added,
 * duplicated, reordered or replaced).
 */
export async function checkWindowFile(
  handle: FileHandle,
  manifest: SignedManifest['manifest'],
): Promise<void> {
  const size = (await handle.stat()).size;
  if (size !== manifest.bytes) {
    throw refuse(`the file holds ${size} bytes, the manifest ${manifest.bytes}`);
  }
  const entries = manifest.segments;
  let index = 0;
  let hash = createHash('sha256');
  let left = entries[0]?.bytes ?? 0;
  let position = 0;
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  while (index < entries.length) {
    const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, position);
    if (bytesRead === 0) throw refuse('the file ended before the manifest did');
    let at = 0;
    while (at < bytesRead && index < entries.length) {
      const take = Math.min(left, bytesRead - at);
      hash.update(buffer.subarray(at, at + take));
      at += take;
      left -= take;
      if (left === 0) {
        const entry = entries[index]!;
        if (hash.digest('hex') !== entry.sha256) {
          throw refuse(
            `segment ${index + 1} (agent ${entry.agent_id}, seq ${entry.seq}) does not match the manifest's SHA-256`,
          );
        }
        index++;
        hash = createHash('sha256');
        left = entries[index]?.bytes ?? 0;
      }
    }
    position += bytesRead;
  }
}

/**
 * Checks that segment `index` (from 1) of the decrypted stream is the entry's segment: its
 * header's segment id, cipher and key id are the ones the cloud recorded.
 */
export function checkSegmentIdentity(
  entries: WindowEntry[],
  index: number,
  header: Pick<SegmentHeader, 'segmentId' | 'keyId' | 'cipher'>,
): void {
  const entry = entries[index - 1];
  if (
    !entry ||
    entry.segment_id !== toHex(header.segmentId) ||
    entry.key_id !== toHex(header.keyId) ||
    entry.cipher !== header.cipher.suite
  ) {
    throw refuse(`segment ${index} is not the one the manifest lists there`);
  }
}
