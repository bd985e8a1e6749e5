import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/**
 * Files that hold secrets (MQTT password, control API token, TLS key): they
 * must be regular files readable by their owner only, and owned by root or by
 * the user the agent runs as. Anything looser is refused, not warned about.
 * Synchronous: they are read once, at start, before anything else runs.
 */

/** A secret file that is missing, unreadable, or readable by others. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * The bytes of a secret file. Checks and reads through one descriptor, so the
 * file checked is the file read.
 */
export function readSecretBytes(file: string, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
    throw new SecretFileError(`${what} ${file}: ${reason}`, file);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileError(`${what} ${file}: not a regular file`, file);
    if ((stat.mode & 0o077) !== 0) {
      throw new SecretFileError(
        `${what} ${file}: readable by group or others (mode ${octal(stat.mode)}); run chmod 600 ${file}`,
        file,
      );
    }
    const uid = process.getuid?.() ?? 0;
    if (stat.uid !== 0 && stat.uid !== uid) {
      throw new SecretFileError(
        `${what} ${file}: owned by uid ${stat.uid}, must be owned by root${uid === 0 ? '' : ` or uid ${uid}`}; run chown root ${file}`,
        file,
      );
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A secret file's text without its trailing newline; an empty file is refused. */
export function readSecretFile(file: string, what: string): string {
  const text = readSecretBytes(file, what)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text.length === 0) throw new SecretFileError(`${what} ${file}: is empty`, file);
  if (/[\r\n]/.test(text)) {
    throw new SecretFileError(`${what} ${file}: must hold a single line`, file);
  }
  return text;
}

/** 32 random bytes as base64url: a token or password nobody has to type. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Creates `file` (mode 0600, missing directories 0700) with generated content
 * unless it exists, then reads it back with the usual checks.
 */
export function ensureSecretFile(
  file: string,
  generate: () => string = randomSecret,
  what = 'secret file',
): { value: string; created: boolean } {
  let created = false;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // 'wx' creates atomically and never follows or replaces an existing file.
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeFileSync(fd, `${generate()}\n`);
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SecretFileError(
        `${what} ${file}: cannot create: ${(error as Error).message}`,
        file,
      );
    }
  }
  return { value: readSecretFile(file, what), created };
}
