import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `agent install` refuses configs and secrets under /tmp or /var/tmp (the unit's
 * PrivateTmp=yes hides them from the service; agent/systemd.ts). Fixtures for it
 * must live elsewhere, and not inside the checkout either: a clone may itself sit
 * under /tmp. WIREFLEET_TEST_SERVICE_DIR picks the parent; otherwise the user's
 * cache directory, then /var/lib (root).
 */
const hiddenByPrivateTmp = (p: string) => /^\/(var\/)?tmp(\/|$)/.test(path.resolve(p));

export function mkdtempForService(prefix: string): string {
  const home = os.homedir();
  const candidates = [
    process.env.WIREFLEET_TEST_SERVICE_DIR,
    path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'wirefleet-tests'),
    '/var/lib/wirefleet-tests',
  ].filter((dir): dir is string => !!dir && path.isAbsolute(dir) && !hiddenByPrivateTmp(dir));
  const failures: string[] = [];
  for (const parent of candidates) {
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      return mkdtempSync(path.join(parent, prefix));
    } catch (error) {
      failures.push(`${parent}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `no writable directory outside /tmp and /var/tmp for the systemd fixtures (${failures.join('; ') || 'none given'}); set WIREFLEET_TEST_SERVICE_DIR`,
  );
}
