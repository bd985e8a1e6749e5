import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKeyFile,
  KeyFileError,
  loadKeyFile,
  parseKeyFile,
} from '../../../agent/evidence/key-file.js';
import { masterKeyFrom } from '../../../agent/evidence/master-key.js';
import { patternBytes } from './segment-helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-keyfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function keyFile(content: string | Uint8Array, mode = 0o600): string {
  const file = path.join(dir, `key-${n++}`);
  writeFileSync(file, content, { mode });
  chmodSync(file, mode);
  return file;
}

const KEY = patternBytes(32, 5);

describe('key file forms', () => {
  it.each([
    ['32 raw bytes', KEY],
    ['hex', KEY.toString('hex')],
    ['hex with a newline (openssl rand -hex 32)', `${KEY.toString('hex')}\n`],
    ['upper-case hex with CRLF', `${KEY.toString('hex').toUpperCase()}\r\n`],
    ['base64', `${KEY.toString('base64')}\n`],
    ['base64url', KEY.toString('base64url')],
  ])('reads %s', (_, content) => {
    const raw = typeof content === 'string' ? Buffer.from(content) : content;
    expect(parseKeyFile(raw, 'k').equals(KEY)).toBe(true);
    expect(loadKeyFile(keyFile(content)).id.equals(masterKeyFrom(KEY).id)).toBe(true);
  });

  it.each([
    ['31 raw bytes', KEY.subarray(1)],
    ['33 raw bytes', Buffer.concat([KEY, Buffer.of(10)])],
    ['63 hex digits', KEY.toString('hex').slice(1)],
    ['hex with spaces', ` ${KEY.toString('hex')}`],
    ['two newlines', `${KEY.toString('hex')}\n\n`],
    ['a passphrase', 'correct horse battery staple'],
    ['an empty file', ''],
  ])('refuses %s', (_, content) => {
    const file = keyFile(content);
    expect(() => loadKeyFile(file)).toThrow(KeyFileError);
    expect(() => loadKeyFile(file)).toThrow(new RegExp(`key file ${file}: expected 32 raw bytes`));
  });

  it('refuses 32 characters of text as a raw key (a passphrase, not random bytes)', () => {
    expect(() => loadKeyFile(keyFile('correct horse battery staple 123'))).toThrow(
      /holds 32 characters of text, not a key/,
    );
  });

  it('refuses an all-zero key', () => {
    expect(() => loadKeyFile(keyFile(Buffer.alloc(32)))).toThrow(/all zero/);
  });
});

describe('key file permissions', () => {
  it.each([0o644, 0o640, 0o604, 0o660, 0o666])(
    'refuses mode %s, naming the file and mode',
    (mode) => {
      const file = keyFile(KEY.toString('hex'), mode);
      const octal = `0${mode.toString(8)}`;
      expect(() => loadKeyFile(file)).toThrow(
        `key file ${file}: readable by group or others (mode ${octal}); run chmod 600 ${file}`,
      );
    },
  );

  it.each([0o600, 0o400])('accepts mode %s', (mode) => {
    expect(loadKeyFile(keyFile(KEY.toString('hex'), mode)).bytes.equals(KEY)).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a 0600 file owned by another user (run as root, so the test can chown)',
    () => {
      const file = keyFile(KEY.toString('hex'));
      chownSync(file, 54321, 54321);
      expect(() => loadKeyFile(file)).toThrow(/owned by uid 54321/);
    },
  );

  it('refuses a missing file and a directory', () => {
    expect(() => loadKeyFile(path.join(dir, 'nope'))).toThrow(/does not exist/);
    const sub = path.join(dir, 'a-dir');
    mkdirSync(sub, { mode: 0o700 });
    expect(() => loadKeyFile(sub)).toThrow(/not a regular file/);
  });
});

describe('createKeyFile', () => {
  it('writes a fresh key as hex, mode 0600, exclusively', () => {
    const file = path.join(dir, 'new', 'capture.key');
    const key = createKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^[0-9a-f]{64}\n$/);
    expect(loadKeyFile(file).id.equals(key.id)).toBe(true);
    expect(() => createKeyFile(file)).toThrow(/already exists; refusing to replace/);
    expect(readFileSync(file, 'utf8')).toBe(text);
    // Another key file, another key.
    expect(createKeyFile(path.join(dir, 'new', 'second.key')).id.equals(key.id)).toBe(false);
  });
});
