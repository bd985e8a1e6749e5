import path from 'node:path';

/** Settings shared by CLI commands, from the environment. */
export function dataDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.WIREFLEET_DATA_DIR ?? '.wirefleet');
}

export function portFromEnv(
  name: string,
  fallback: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return port;
}

/** An integer option within [min, max]; undefined when absent. */
export function intOption(name: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer ${min}-${max}, got "${value}"`);
  }
  return n;
}

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
