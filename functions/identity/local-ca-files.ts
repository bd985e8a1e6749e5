import { constants } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalCertificateAuthority } from './local-ca.js';

/**
 * The local CA on disk: `ca.key` (PKCS#8 PEM, 0600, created exclusively and
 * refused when anyone else may read it) and `ca.crt` beside it, in a
 * directory of the local stack's data dir. Made on first start, kept after.
 */

export const CA_KEY_FILE = 'ca.key';
export const CA_CERT_FILE = 'ca.crt';

/** The CA's files are missing half-way, or the key is not safely the user's own. */
export class LocalCaError extends Error {
  override readonly name = 'LocalCaError';
}

export interface LocalCaFiles {
  ca: LocalCertificateAuthority;
  keyFile: string;
  certFile: string;
  created: boolean;
}

export async function loadOrCreateLocalCa(dir: string): Promise<LocalCaFiles> {
  const keyFile = path.join(dir, CA_KEY_FILE);
  const certFile = path.join(dir, CA_CERT_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const [hasKey, hasCert] = await Promise.all([exists(keyFile), exists(certFile)]);
  if (hasKey && hasCert) {
    const keyPem = await readOwnSecret(keyFile);
    try {
      const ca = await LocalCertificateAuthority.load(keyPem, await readFile(certFile, 'utf8'));
      return { ca, keyFile, certFile, created: false };
    } catch (error) {
      throw new LocalCaError(
        `the local CA in ${dir} does not load (${(error as Error).message}); remove ${CA_KEY_FILE} and ${CA_CERT_FILE} to make a new one (agents must then register again)`,
      );
    }
  }
  if (hasKey || hasCert) {
    throw new LocalCaError(
      `the local CA in ${dir} is incomplete (only ${hasKey ? CA_KEY_FILE : CA_CERT_FILE}); remove it to make a new one (agents must then register again)`,
    );
  }
  const { ca, keyPem } = await LocalCertificateAuthority.create();
  // The certificate first: a crash in between leaves a certificate alone, never a lone key.
  await writeFile(certFile, ca.certificatePem, { mode: 0o644, flag: 'wx' });
  try {
    await writeFile(keyFile, keyPem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await rm(certFile, { force: true });
    throw error;
  }
  return { ca, keyFile, certFile, created: true };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Reads through one descriptor that is checked first: a regular file, ours, mode 0600 or tighter. */
async function readOwnSecret(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new LocalCaError(`${file} is not a regular file`);
    if (info.uid !== process.getuid?.()) {
      throw new LocalCaError(`${file} is owned by uid ${info.uid}, not by this user`);
    }
    if ((info.mode & 0o077) !== 0) {
      throw new LocalCaError(
        `${file} may be read by group or others (mode 0${(info.mode & 0o777).toString(8)}); run chmod 600 ${file}`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
