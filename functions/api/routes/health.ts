import { Hono } from 'hono';
import type { AppEnv } from '../env.js';

/** Liveness: no auth, no store access. */
export function healthRoutes(version: string) {
  const started = Date.now();
  return new Hono<AppEnv>().get('/health', (c) =>
    c.json({ status: 'ok', version, uptime_s: Math.round((Date.now() - started) / 1000) }),
  );
}
