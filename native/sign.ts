import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { keyFingerprint, verifyAddon } from '../agent/integrity.js';
import { ADDON_PATH } from './index.js';

/**
 * Signs the built addon: `node --import tsx native/sign.ts [--addon PATH]`.
 *
 * Writes a detached Ed25519 signature to `<addon>.sig` as one line of base64
 * (the 64 signature bytes), and the public key as an SPKI PEM to
 * `addon-signing.pub` next to the addon. The private key comes from
 * WIREFLEET_SIGNING_KEY (PEM text) or WIREFLEET_SIGNING_KEY_FILE; otherwise it
 * is generated once at ~/.config/wirefleet/addon-signing.key (0600, directory
 * 0700) — never inside the repository.
 */

export const PUBLIC_KEY_NAME = 'addon-signing.pub';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class SigningError extends Error {
  override readonly name = 'SigningError';
}

export function defaultKeyFile(home = os.homedir()): string {
  return path.join(home, '.config', 'wirefleet', 'addon-signing.key');
}

function ed25519PrivateKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new SigningError(`${source}: not a PEM private key (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningError(
      `${source}: is a ${key.asymmetricKeyType} key; addon signing needs Ed25519`,
    );
  }
  return key;
}

function insideRepo(file: string): boolean {
  const relative = path.relative(repoRoot, path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The signing key and a description of where it came from. */
export function resolveSigningKey(
  env: NodeJS.ProcessEnv = process.env,
  home = os.homedir(),
): { key: KeyObject; source: string; generated: boolean } {
  if (env.WIREFLEET_SIGNING_KEY) {
    const source = 'WIREFLEET_SIGNING_KEY';
    return { key: ed25519PrivateKey(env.WIREFLEET_SIGNING_KEY, source), source, generated: false };
  }
  const fromEnv = env.WIREFLEET_SIGNING_KEY_FILE;
  const file = path.resolve(fromEnv || defaultKeyFile(home));
  if (existsSync(file)) {
    return {
      key: ed25519PrivateKey(readFileSync(file, 'utf8'), file),
      source: file,
      generated: false,
    };
  }
  if (fromEnv) throw new SigningError(`WIREFLEET_SIGNING_KEY_FILE ${file}: does not exist`);
  if (insideRepo(file)) {
    throw new SigningError(
      `refusing to generate a signing key inside the repository (${file}); set WIREFLEET_SIGNING_KEY_FILE`,
    );
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
    flag: 'wx',
  });
  return { key: privateKey, source: `${file} (generated now)`, generated: true };
}

/** Writes a file by rename, so a reader never sees half of it. */
function writeAtomic(file: string, data: string, mode: number) {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, data, { mode });
  renameSync(temp, file);
}

export interface SignResult {
  addonPath: string;
  signaturePath: string;
  publicKeyPath: string;
  fingerprint: string;
}

export function signAddon(addonPath: string, key: KeyObject): SignResult {
  let bytes: Buffer;
  try {
    bytes = readFileSync(addonPath);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SigningError(
      `${addonPath}: ${missing ? 'does not exist (build it first: npm run build:native)' : (error as Error).message}`,
    );
  }
  const signaturePath = `${addonPath}.sig`;
  const publicKeyPath = path.join(path.dirname(addonPath), PUBLIC_KEY_NAME);
  const publicKey = createPublicKey(key);
  writeAtomic(signaturePath, `${sign(null, bytes, key).toString('base64')}\n`, 0o644);
  writeAtomic(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  // Check what was written the way the agent will.
  const check = verifyAddon({ addonPath, publicKeyPath });
  if (check.status !== 'valid') throw new SigningError(`self-check failed: ${check.message}`);
  return { addonPath, signaturePath, publicKeyPath, fingerprint: keyFingerprint(publicKey) };
}

export function main(argv: string[]): number {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { addon: { type: 'string' } },
      strict: true,
    });
    const addonPath = path.resolve(values.addon ?? ADDON_PATH);
    const { key, source } = resolveSigningKey();
    const result = signAddon(addonPath, key);
    process.stdout.write(
      `wirefleet sign: signed ${result.addonPath} with Ed25519 key ${result.fingerprint} from ${source}; ` +
        `public key ${result.publicKeyPath}, signature ${result.signaturePath}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`wirefleet sign: ${(error as Error).message}\n`);
    return error instanceof SigningError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? 2
      : 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
