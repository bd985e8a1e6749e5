import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BUNDLED_DIRS = ['functions', 'protocol'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

// `import { z } from 'zod'` pulls zod's whole namespace, locales included,
// into every Lambda bundle (the API went from 994 kB to 1.35 MB); the
// namespace import lets esbuild drop what is unused.
describe('zod imports in Lambda code', () => {
  it('use the namespace form, so bundles tree-shake zod', () => {
    const offenders = BUNDLED_DIRS.flatMap((dir) => sources(join(ROOT, dir)))
      .filter((file) =>
        /^import\s*\{[^}]*\bz\b[^}]*\}\s*from\s*'zod'/m.test(readFileSync(file, 'utf8')),
      )
      .map((file) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});
