import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddonIntegrityError, loadVerifiedEngine, verifyAddon } from '../../../agent/integrity.js';
import { type AgentLogger, createAgentLogger } from '../../../agent/log.js';

// Real Ed25519 keys and real files; the "addon" is random bytes (loading it is not the point here).

let dir: string;
let addon: string;
let publicKey: string;
let otherPublicKey: string;
let signingKey: ReturnType<typeof generateKeyPairSync>['privateKey'];

const pem = (key: { export(o: object): string | Buffer }) =>
  key.export({ type: 'spki', format: 'pem' }).toString();

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-integrity-'));
  const pair = generateKeyPairSync('ed25519');
  signingKey = pair.privateKey;
  addon = path.join(dir, 'engine.node');
  writeFileSync(addon, randomBytes(4096));
  writeFileSync(
    `${addon}.sig`,
    `${sign(null, readFileSync(addon), signingKey).toString('base64')}\n`,
  );
  publicKey = path.join(dir, 'signing.pub');
  writeFileSync(publicKey, pem(pair.publicKey));
  otherPublicKey = path.join(dir, 'other.pub');
  writeFileSync(otherPublicKey, pem(generateKeyPairSync('ed25519').publicKey));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the signed addon and its signature, to damage. */
function copy(name: string): string {
  const target = path.join(dir, name);
  copyFileSync(addon, target);
  copyFileSync(`${addon}.sig`, `${target}.sig`);
  return target;
}

describe('verifyAddon', () => {
  it('accepts a valid signature', () => {
    const result = verifyAddon({ addonPath: addon, publicKeyPath: publicKey });
    expect(result.status).toBe('valid');
    expect(result.algorithm).toBe('Ed25519');
    expect(result.key_fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.addon_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a raw 64-byte signature file and an explicit signature path', () => {
    const sig = path.join(dir, 'raw.sig');
    writeFileSync(sig, sign(null, readFileSync(addon), signingKey));
    expect(
      verifyAddon({ addonPath: addon, signaturePath: sig, publicKeyPath: publicKey }).status,
    ).toBe('valid');
  });

  it('reports a flipped byte as invalid', () => {
    const target = copy('flipped.node');
    const bytes = readFileSync(target);
    bytes[1234]! ^= 0x01;
    writeFileSync(target, bytes);
    const result = verifyAddon({ addonPath: target, publicKeyPath: publicKey });
    expect(result.status).toBe('invalid');
    expect(result.message).toMatch(/does not match its signature/);
  });

  it('reports a missing signature as unsigned', () => {
    const target = copy('unsigned.node');
    rmSync(`${target}.sig`);
    const result = verifyAddon({ addonPath: target, publicKeyPath: publicKey });
    expect(result.status).toBe('unsigned');
    expect(result.message).toContain(`${target}.sig does not exist`);
  });

  it('reports another key as invalid', () => {
    expect(verifyAddon({ addonPath: addon, publicKeyPath: otherPublicKey }).status).toBe('invalid');
  });

  it('reports a garbled signature file as invalid', () => {
    const target = copy('garbled.node');
    writeFileSync(`${target}.sig`, 'not a signature\n');
    expect(verifyAddon({ addonPath: target, publicKeyPath: publicKey })).toMatchObject({
      status: 'invalid',
      message: expect.stringMatching(/is not an Ed25519 signature/),
    });
  });

  it('refuses RSA keys, private keys and missing keys', () => {
    const rsa = path.join(dir, 'rsa.pub');
    writeFileSync(rsa, pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey));
    expect(() => verifyAddon({ addonPath: addon, publicKeyPath: rsa })).toThrow(
      AddonIntegrityError,
    );
    expect(() => verifyAddon({ addonPath: addon, publicKeyPath: rsa })).toThrow(
      /is a rsa key; only Ed25519 is accepted/,
    );
    const priv = path.join(dir, 'private.pem');
    writeFileSync(priv, signingKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(() => verifyAddon({ addonPath: addon, publicKeyPath: priv })).toThrow(
      /is a private key/,
    );
    expect(() =>
      verifyAddon({ addonPath: addon, publicKeyPath: path.join(dir, 'none.pub') }),
    ).toThrow(/none\.pub: does not exist/);
  });
});

describe('loadVerifiedEngine', () => {
  const capture = () => {
    const lines: Record<string, unknown>[] = [];
    const logger: AgentLogger = createAgentLogger({
      level: 'debug',
      write: (line) => lines.push(JSON.parse(line)),
    });
    return { lines, logger };
  };

  it('refuses an invalid addon before loading anything', () => {
    const target = copy('refused.node');
    writeFileSync(target, randomBytes(4096));
    expect(() => loadVerifiedEngine({ addonPath: target, publicKeyPath: publicKey })).toThrow(
      /does not match its signature .*refusing to load it \(set integrity\.allow_unsigned to override\)/,
    );
  });

  it('refuses an unsigned addon unless allowUnsigned, which warns and then loads', () => {
    const target = copy('allowed.node');
    rmSync(`${target}.sig`);
    expect(() => loadVerifiedEngine({ addonPath: target, publicKeyPath: publicKey })).toThrow(
      AddonIntegrityError,
    );
    const { lines, logger } = capture();
    // The bytes are random, so the load itself fails: proof that it got as far as loading.
    expect(() =>
      loadVerifiedEngine({
        addonPath: target,
        publicKeyPath: publicKey,
        allowUnsigned: true,
        logger,
      }),
    ).toThrow(/native engine failed to load/);
    expect(lines.find((l) => l.level === 'warn')).toMatchObject({ status: 'unsigned' });
  });

  it('a valid signature reaches the loader', () => {
    expect(() => loadVerifiedEngine({ addonPath: addon, publicKeyPath: publicKey })).toThrow(
      /native engine failed to load/,
    );
  });

  it('refuses an RSA key even with allowUnsigned', () => {
    const rsa = path.join(dir, 'rsa2.pub');
    writeFileSync(rsa, pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey));
    expect(() =>
      loadVerifiedEngine({ addonPath: addon, publicKeyPath: rsa, allowUnsigned: true }),
    ).toThrow(/only Ed25519 is accepted/);
  });
});
