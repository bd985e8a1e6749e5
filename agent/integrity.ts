import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADDON_PATH, loadEngine, type NativeModule } from '../native/index.js';
import { type AgentLogger, silentAgentLogger } from './log.js';

/**
 * The native engine runs with the agent's capture capabilities, so it is only
 * loaded once its detached Ed25519 signature checks out (native/sign.ts makes
 * it). The file is read once; those bytes are verified, and those same bytes
 * are what gets loaded (from a private copy), so swapping the file between
 * check and load achieves nothing.
 *
 * Signature file: `<addon>.sig` by default, holding the 64-byte signature in
 * base64 (what sign.ts writes); a raw 64-byte file (openssl pkeyutl -rawin) is
 * accepted too. Public key: an SPKI PEM ("BEGIN PUBLIC KEY") for Ed25519.
 */

export type AddonStatus = 'valid' | 'invalid' | 'unsigned';

export interface AddonVerification {
  status: AddonStatus;
  algorithm: 'Ed25519';
  /** "sha256:" and the hex SHA-256 of the public key's SPKI DER; null without a key. */
  key_fingerprint: string | null;
  addon_sha256: string;
  message: string;
}

/** The addon, its signature or the public key cannot be used at all, or the addon must not load. */
export class AddonIntegrityError extends Error {
  override readonly name = 'AddonIntegrityError';
  constructor(
    message: string,
    readonly verification?: AddonVerification,
  ) {
    super(message);
  }
}

export function keyFingerprint(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** Reads an Ed25519 public key; anything else (RSA, EC, a private key) is refused. */
export function loadPublicKey(publicKeyPath: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(publicKeyPath, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AddonIntegrityError(
      `addon public key ${publicKeyPath}: ${missing ? 'does not exist' : (error as Error).message}`,
    );
  }
  // createPublicKey would happily derive a public key from a private one; a private key on a device is a mistake.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new AddonIntegrityError(
      `addon public key ${publicKeyPath}: is a private key; install the public key (addon-signing.pub) instead`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (error) {
    throw new AddonIntegrityError(
      `addon public key ${publicKeyPath}: not a PEM public key (${(error as Error).message})`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AddonIntegrityError(
      `addon public key ${publicKeyPath}: is a ${key.asymmetricKeyType ?? 'unknown'} key; only Ed25519 is accepted`,
    );
  }
  return key;
}

/** The 64-byte signature from a .sig file (base64 text, or raw); undefined when malformed. */
export function decodeSignature(file: Buffer): Buffer | undefined {
  if (file.length === 64) return file;
  const text = file.toString('latin1').trim();
  if (!/^[A-Za-z0-9+/]{86}==$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

export interface VerifyAddonOptions {
  addonPath: string;
  /** Default: `<addonPath>.sig`. */
  signaturePath?: string | undefined;
  publicKeyPath: string;
}

/** Verifies bytes already read; the core of verifyAddon. */
function verifyBytes(
  bytes: Buffer,
  options: VerifyAddonOptions,
  key: KeyObject,
): AddonVerification {
  const { addonPath } = options;
  const signaturePath = options.signaturePath ?? `${addonPath}.sig`;
  const base = {
    algorithm: 'Ed25519' as const,
    key_fingerprint: keyFingerprint(key),
    addon_sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  let sigFile: Buffer;
  try {
    sigFile = readFileSync(signaturePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        ...base,
        status: 'unsigned',
        message: `addon ${addonPath} is not signed (${signaturePath} does not exist)`,
      };
    }
    throw new AddonIntegrityError(`addon signature ${signaturePath}: ${(error as Error).message}`);
  }
  const signature = decodeSignature(sigFile);
  if (!signature) {
    return {
      ...base,
      status: 'invalid',
      message: `addon signature ${signaturePath} is not an Ed25519 signature (64 bytes, raw or base64)`,
    };
  }
  if (!verify(null, bytes, key, signature)) {
    return {
      ...base,
      status: 'invalid',
      message: `addon ${addonPath} does not match its signature ${signaturePath} for key ${base.key_fingerprint}: the addon or the signature was changed, or it was signed with another key`,
    };
  }
  return {
    ...base,
    status: 'valid',
    message: `addon ${addonPath} signature valid (Ed25519 key ${base.key_fingerprint})`,
  };
}

function readAddon(addonPath: string): Buffer {
  try {
    return readFileSync(addonPath);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AddonIntegrityError(
      `addon ${addonPath}: ${missing ? 'does not exist (run npm run build:native)' : (error as Error).message}`,
    );
  }
}

/**
 * Checks the addon's detached signature. Throws AddonIntegrityError only when
 * nothing can be checked (no addon, no or unusable public key).
 */
export function verifyAddon(options: VerifyAddonOptions): AddonVerification {
  const key = loadPublicKey(options.publicKeyPath);
  return verifyBytes(readAddon(options.addonPath), options, key);
}

export interface LoadVerifiedEngineOptions {
  addonPath?: string;
  signaturePath?: string | undefined;
  publicKeyPath: string;
  /** Load even when unsigned, invalid or unverifiable: logged as a warning, status returned. */
  allowUnsigned?: boolean;
  logger?: AgentLogger;
  /** Where the private copy that gets loaded is written (default: the OS temp dir). */
  loadDir?: string;
}

export interface VerifiedEngine extends AddonVerification {
  engine: NativeModule;
  /** Checks the addon on disk again (status command); does not reload it. */
  verify(): AddonVerification;
}

/** Loads exactly `bytes`: from a copy in a fresh 0700 directory only this process can write. */
function loadBytes(
  bytes: Buffer,
  addonPath: string,
  loadDir: string,
  logger: AgentLogger,
): NativeModule {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(path.join(loadDir, 'wirefleet-engine-'));
    const copy = path.join(dir, path.basename(addonPath));
    writeFileSync(copy, bytes, { mode: 0o500, flag: 'wx' });
    return loadEngine(copy);
  } catch (error) {
    // A noexec temp dir refuses the copy: fall back to the original if it still holds the verified bytes.
    logger.debug('loading the verified copy failed; loading the original', {
      error: (error as Error).message,
    });
    if (!readAddon(addonPath).equals(bytes)) {
      throw new AddonIntegrityError(`addon ${addonPath} changed while it was being verified`);
    }
    return loadEngine(addonPath);
  } finally {
    // The mapping outlives the file; nothing is left behind.
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Verifies the addon, then loads it (loadEngine). Refuses, with
 * AddonIntegrityError, unless the signature is valid or allowUnsigned is set.
 * An Ed25519 key is required even with allowUnsigned, except when the key file
 * is missing altogether. Note loadEngine caches: verify before anything else
 * loads the engine.
 */
export function loadVerifiedEngine(options: LoadVerifiedEngineOptions): VerifiedEngine {
  const addonPath = options.addonPath ?? ADDON_PATH;
  const logger = options.logger ?? silentAgentLogger;
  const verifyOptions = {
    addonPath,
    signaturePath: options.signaturePath,
    publicKeyPath: options.publicKeyPath,
  };
  const bytes = readAddon(addonPath);
  let verification: AddonVerification;
  if (options.allowUnsigned && !existsSync(options.publicKeyPath)) {
    verification = {
      status: 'unsigned',
      algorithm: 'Ed25519',
      key_fingerprint: null,
      addon_sha256: createHash('sha256').update(bytes).digest('hex'),
      message: `addon ${addonPath} not verified: public key ${options.publicKeyPath} does not exist`,
    };
  } else {
    verification = verifyBytes(bytes, verifyOptions, loadPublicKey(options.publicKeyPath));
  }
  if (verification.status !== 'valid') {
    if (!options.allowUnsigned) {
      throw new AddonIntegrityError(
        `${verification.message}; refusing to load it (set integrity.allow_unsigned to override)`,
        verification,
      );
    }
    logger.warn('loading the native engine without a valid signature (integrity.allow_unsigned)', {
      status: verification.status,
      detail: verification.message,
      addon_sha256: verification.addon_sha256,
    });
  } else {
    logger.info('native engine signature verified', {
      key_fingerprint: verification.key_fingerprint,
      addon_sha256: verification.addon_sha256,
    });
  }
  const engine = loadBytes(bytes, addonPath, options.loadDir ?? os.tmpdir(), logger);
  return {
    ...verification,
    engine,
    verify() {
      try {
        return verifyAddon(verifyOptions);
      } catch (error) {
        return {
          status: 'invalid',
          algorithm: 'Ed25519',
          key_fingerprint: verification.key_fingerprint,
          addon_sha256: '',
          message: (error as Error).message,
        };
      }
    },
  };
}
