import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretBytes } from '../../agent/secret-file.js';
import { wirefleet } from '../helpers/agent-process.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wirefleet tango secret', () => {
  it('writes a 0600 pair secret the agent accepts, and never replaces one', async () => {
    const file = path.join(dir, 'pair.secret');
    const { stderr } = await wirefleet(['tango', 'secret', '--out', file]);
    expect(stderr).toMatch(/wrote .*pair\.secret \(0600\)/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^[0-9a-f]{64}\n$/);
    // What startTango reads: a root-only file of at least 32 bytes.
    expect(readSecretBytes(file, 'tango secret file').length).toBeGreaterThanOrEqual(32);

    await expect(wirefleet(['tango', 'secret', '--out', file])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('already exists; refusing to replace a pair secret'),
    });
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('a second run makes a different secret, and --out is required', async () => {
    const a = path.join(dir, 'a.secret');
    const b = path.join(dir, 'b.secret');
    await wirefleet(['tango', 'secret', '--out', a]);
    await wirefleet(['tango', 'secret', '--out', b]);
    expect(readFileSync(a, 'utf8')).not.toBe(readFileSync(b, 'utf8'));
    await expect(wirefleet(['tango', 'secret'])).rejects.toMatchObject({ code: 2 });
  });
});
