import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: esbuild's project root and where package-lock.json lives. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const LOCK_FILE = path.join(REPO_ROOT, 'package-lock.json');

/** A Lambda entry under functions/handlers/ (each exports `handler`). */
export const handlerEntry = (name: string): string =>
  path.join(REPO_ROOT, 'functions', 'handlers', `${name}.ts`);

/** The entry when its file exists; undefined for a handler not written yet. */
export const optionalHandlerEntry = (name: string): string | undefined => {
  const entry = handlerEntry(name);
  return existsSync(entry) ? entry : undefined;
};

/** The web console's sources; `npx tsx web/build.ts --out-dir DIR` builds it. */
export const WEB_DIR = path.join(REPO_ROOT, 'web');
export const CONSOLE_BUILD_SCRIPT = path.join(WEB_DIR, 'build.ts');
