import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { toHex } from '../../protocol/evidence/format.js';
import { readSecretBytes, SecretFileError } from '../secret-file.js';
import { MASTER_KEY_LENGTH, type MasterKey, masterKeyFrom } from './master-key.js';

/**
 * The evidence master key file. It holds the 32-byte key in one of three forms, told apart by
 * length: exactly 32 raw bytes; 64 hex digits (what `openssl rand -hex 32` writes, as the
 * capture spec suggests); or base64/base64url of the 32 bytes (44 characters with padding, 43
 * without). Text forms may end with one newline. 32 bytes that are all printable text are refused
 * as a passphrase mistaken for a key. The file must be a regular file that only its
 * owner can read or write (mode 0600 or stricter), owned by the user reading it (or root); anything
 * else is refused, naming the file and its mode. No passphrases: the key is random, so no KDF
 * is needed. `wirefleet pcap keygen` writes the hex form.
 */

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;

/** The key in a key file's bytes; `file` only names it in errors. */
export function parseKeyFile(raw: Uint8Array, file: string): Buffer {
  let key: Buffer | undefined;
  if (raw.length === MASTER_KEY_LENGTH) {
    // 32 printable characters are a passphrase or a typo, not random bytes (odds ~1e-14).
    if (raw.every((b) => b >= 0x20 && b <= 0x7e)) {
      throw new KeyFileError(
        `key file ${file}: holds 32 characters of text, not a key; write 64 hex digits (wirefleet pcap keygen)`,
        file,
      );
    }
    key = Buffer.from(raw);
  } else {
    const text = Buffer.from(raw)
      .toString('latin1')
      .replace(/\r?\n$/, '');
    if (HEX.test(text)) key = Buffer.from(text, 'hex');
    else if (BASE64.test(text)) key = Buffer.from(text, 'base64');
    else if (BASE64URL.test(text)) key = Buffer.from(text, 'base64url');
  }
  if (!key || key.length !== MASTER_KEY_LENGTH) {
    throw new KeyFileError(
      `key file ${file}: expected 32 raw bytes, 64 hex digits or base64 of 32 bytes, found ${raw.length} bytes that are none of these`,
      file,
    );
  }
  if (key.every((b) => b === 0)) {
    throw new KeyFileError(`key file ${file}: the key is all zero bytes`, file);
  }
  return key;
}

/** Reads and checks a key file (permissions first, through one descriptor). */
export function loadKeyFile(file: string): MasterKey {
  let raw: Buffer;
  try {
    raw = readSecretBytes(file, 'key file');
  } catch (error) {
    if (error instanceof SecretFileError) throw new KeyFileError(error.message, file);
    throw error;
  }
  try {
    return masterKeyFrom(parseKeyFile(raw, file));
  } finally {
    raw.fill(0);
  }
}

/**
 * Creates a new key file with a fresh random key: created exclusively (never replaces a file,
 * never follows a symlink at the name), mode 0600; missing directories are made 0700.
 */
export function createKeyFile(file: string): MasterKey {
  const key = randomBytes(MASTER_KEY_LENGTH);
  try {
    let fd: number;
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fd = openSync(file, 'wx', 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new KeyFileError(
        code === 'EEXIST'
          ? `key file ${file} already exists; refusing to replace a key (segments sealed with it would become unreadable)`
          : `key file ${file}: cannot create: ${(error as Error).message}`,
        file,
      );
    }
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, `${toHex(key)}\n`);
    } finally {
      closeSync(fd);
    }
    return masterKeyFrom(key);
  } finally {
    key.fill(0);
  }
}
