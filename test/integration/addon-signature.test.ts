import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVerifiedEngine, verifyAddon } from '../../agent/integrity.js';
import { ADDON_PATH } from '../../native/index.js';

// native/sign.ts run for real on a copy of the built addon; the agent's verifier checks the result.
// HOME points into the temp dir so nothing here can touch the developer's ~/.config.

const SIGN = path.resolve('native/sign.ts');
let dir: string;
let addon: string;

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function signScript(args: string[], env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    const clean: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_OPTIONS: '',
      HOME: path.join(dir, 'home'),
    };
    delete clean.WIREFLEET_SIGNING_KEY;
    delete clean.WIREFLEET_SIGNING_KEY_FILE;
    execFile(
      process.execPath,
      ['--import', 'tsx', SIGN, ...args],
      { env: { ...clean, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const ed25519Pem = () =>
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-addon-sig-'));
  addon = path.join(dir, 'wirefleet_engine.node');
  copyFileSync(ADDON_PATH, addon);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('native/sign.ts', () => {
  it('signs with WIREFLEET_SIGNING_KEY; the agent verifies and loads the addon', async () => {
    const run = await signScript(['--addon', addon], { WIREFLEET_SIGNING_KEY: ed25519Pem() });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const publicKeyPath = path.join(dir, 'addon-signing.pub');
    expect(run.stdout).toMatch(
      new RegExp(
        `^wirefleet sign: signed ${addon} with Ed25519 key sha256:[0-9a-f]{64} from WIREFLEET_SIGNING_KEY; public key ${publicKeyPath}, signature ${addon}\\.sig\\n$`,
      ),
    );
    expect(readFileSync(`${addon}.sig`, 'utf8')).toMatch(/^[A-Za-z0-9+/]{86}==\n$/);
    expect(readFileSync(publicKeyPath, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(existsSync(path.join(dir, 'home'))).toBe(false);

    const result = verifyAddon({ addonPath: addon, publicKeyPath });
    expect(result.status).toBe('valid');
    expect(run.stdout).toContain(result.key_fingerprint!);

    const engine = loadVerifiedEngine({ addonPath: addon, publicKeyPath });
    expect(engine.status).toBe('valid');
    expect(engine.engine.backends().map((b) => b.name)).toContain('afpacket');
    expect(engine.verify().status).toBe('valid');
  });

  it('a flipped byte in the signed copy is invalid', async () => {
    const flipped = path.join(dir, 'flipped', 'wirefleet_engine.node');
    const run = await signScript(['--addon', addon], { WIREFLEET_SIGNING_KEY: ed25519Pem() });
    expect(run.code).toBe(0);
    const bytes = readFileSync(addon);
    bytes[bytes.length >> 1]! ^= 0x80;
    mkdirSync(path.dirname(flipped));
    writeFileSync(flipped, bytes);
    copyFileSync(`${addon}.sig`, `${flipped}.sig`);
    const publicKeyPath = path.join(dir, 'addon-signing.pub');
    expect(verifyAddon({ addonPath: flipped, publicKeyPath }).status).toBe('invalid');
    expect(() => loadVerifiedEngine({ addonPath: flipped, publicKeyPath })).toThrow(
      /refusing to load it/,
    );
  });

  it('generates a key once under ~/.config/wirefleet (0600, dir 0700) and reuses it', async () => {
    const first = await signScript(['--addon', addon], {});
    expect(first.code).toBe(0);
    const keyFile = path.join(dir, 'home', '.config', 'wirefleet', 'addon-signing.key');
    expect(first.stdout).toContain(`from ${keyFile} (generated now)`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(keyFile)).mode & 0o777).toBe(0o700);
    const second = await signScript(['--addon', addon], {});
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`from ${keyFile};`);
    const fingerprint = (out: string) => /key (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    expect(fingerprint(second.stdout)).toBe(fingerprint(first.stdout));
  });

  it('takes WIREFLEET_SIGNING_KEY_FILE and refuses non-Ed25519 keys and a missing addon', async () => {
    const keyFile = path.join(dir, 'ci.key');
    writeFileSync(keyFile, ed25519Pem(), { mode: 0o600 });
    const fromFile = await signScript(['--addon', addon], { WIREFLEET_SIGNING_KEY_FILE: keyFile });
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain(`from ${keyFile};`);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const refused = await signScript(['--addon', addon], { WIREFLEET_SIGNING_KEY: rsa });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      'wirefleet sign: WIREFLEET_SIGNING_KEY: is a rsa key; addon signing needs Ed25519\n',
    );

    const missing = await signScript(['--addon', path.join(dir, 'nope.node')], {
      WIREFLEET_SIGNING_KEY: ed25519Pem(),
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.node: does not exist \(build it first/);
  });
});
