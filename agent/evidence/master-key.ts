import { createHmac, hkdfSync } from 'node:crypto';
import {
  type CipherSpec,
  KEY_ID_LENGTH,
  NONCE_LENGTH,
  TAG_LENGTH,
} from '../../protocol/evidence/format.js';
import { aeadCipher, aeadDecipher } from './aead.js';

/**
 * The master key from the key file, and what is derived from it (see
 * protocol/evidence/format.ts for the layout these fill in):
 *   key id = HMAC-SHA-256(master key, "wirefleet-evidence/v1 key id")[0..16]
 *   KEK    = HKDF-SHA-256(master key, salt = segment id, info = "wirefleet-evidence/v1 wrap" ||
 *            cipher id), as long as the cipher's key; it seals the segment's data key.
 */

export const MASTER_KEY_LENGTH = 32;
const KEY_ID_LABEL = Buffer.from('wirefleet-evidence/v1 key id', 'ascii');
const WRAP_LABEL = Buffer.from('wirefleet-evidence/v1 wrap', 'ascii');
/** The KEK is fresh per segment (random salt), so one fixed nonce is safe, as in age's stanzas. */
const WRAP_NONCE = Buffer.alloc(NONCE_LENGTH);

export interface MasterKey {
  readonly bytes: Buffer;
  /** 16 bytes that name the key in segment headers. */
  readonly id: Buffer;
}

export function masterKeyFrom(bytes: Uint8Array): MasterKey {
  if (bytes.length !== MASTER_KEY_LENGTH) {
    throw new RangeError(`a master key is ${MASTER_KEY_LENGTH} bytes, got ${bytes.length}`);
  }
  const key = Buffer.from(bytes);
  const id = createHmac('sha256', key).update(KEY_ID_LABEL).digest().subarray(0, KEY_ID_LENGTH);
  return { bytes: key, id: Buffer.from(id) };
}

function keyEncryptionKey(master: MasterKey, cipher: CipherSpec, segmentId: Uint8Array): Buffer {
  const info = Buffer.concat([WRAP_LABEL, Buffer.of(cipher.id)]);
  return Buffer.from(hkdfSync('sha256', master.bytes, segmentId, info, cipher.keyLength));
}

/** Seals the data key; `aad` is the header before the wrapped key. Returns ciphertext || tag. */
export function wrapDataKey(
  master: MasterKey,
  cipher: CipherSpec,
  segmentId: Uint8Array,
  dataKey: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const kek = keyEncryptionKey(master, cipher, segmentId);
  try {
    const c = aeadCipher(cipher, kek, WRAP_NONCE);
    c.setAAD(aad, { plaintextLength: dataKey.length });
    const sealed = Buffer.concat([c.update(dataKey), c.final(), c.getAuthTag()]);
    return sealed;
  } finally {
    kek.fill(0);
  }
}

/** Opens the wrapped data key; undefined when the header (or the key) does not authenticate. */
export function unwrapDataKey(
  master: MasterKey,
  cipher: CipherSpec,
  segmentId: Uint8Array,
  wrapped: Uint8Array,
  aad: Uint8Array,
): Buffer | undefined {
  if (wrapped.length !== cipher.keyLength + TAG_LENGTH) return undefined;
  const kek = keyEncryptionKey(master, cipher, segmentId);
  try {
    const d = aeadDecipher(cipher, kek, WRAP_NONCE);
    d.setAAD(aad, { plaintextLength: cipher.keyLength });
    d.setAuthTag(wrapped.subarray(cipher.keyLength));
    const dataKey = d.update(wrapped.subarray(0, cipher.keyLength));
    try {
      d.final();
    } catch {
      dataKey.fill(0);
      return undefined;
    }
    return dataKey;
  } finally {
    kek.fill(0);
  }
}
