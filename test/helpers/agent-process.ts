import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** The real CLI (`node bin/wirefleet.js ...`), as an operator runs it. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(REPO_ROOT, 'bin/wirefleet.js');
const run = promisify(execFile);

export async function wirefleet(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * `wirefleet agent register` (a key made here and a CSR; with passwordLogin a
 * password instead), then config edits (timeouts, batch size...) merged in.
 */
export async function registerAgent(options: {
  apiUrl: string;
  token: string;
  id: string;
  dir: string;
  file?: string;
  mqttUrl?: string;
  passwordLogin?: boolean;
  patch?: Record<string, Record<string, unknown>>;
}): Promise<{ configPath: string; config: Record<string, Record<string, unknown>> }> {
  const configPath = path.join(options.dir, `${options.id}.agent.json`);
  await wirefleet(
    [
      'agent',
      'register',
      '--id',
      options.id,
      '--out',
      configPath,
      '--api',
      options.apiUrl,
      '--control-listen',
      '127.0.0.1:0',
      ...(options.file ? ['--file', options.file] : []),
      ...(options.mqttUrl ? ['--mqtt-url', options.mqttUrl] : []),
      ...(options.passwordLogin ? ['--password-login'] : []),
    ],
    { WIREFLEET_API_TOKEN: options.token },
  );
  const config = JSON.parse(await readFile(configPath, 'utf8'));
  for (const [section, values] of Object.entries(options.patch ?? {})) {
    config[section] = { ...(config[section] ?? {}), ...values };
  }
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  return { configPath, config };
}

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no chance to flush anything. */
  kill9(): Promise<void>;
}

export function startAgentProcess(
  configPath: string,
  env: Record<string, string | undefined> = {},
  extraArgs: string[] = [],
): AgentProcess {
  const child = spawn(
    process.execPath,
    [CLI, 'agent', 'run', '--config', configPath, ...extraArgs],
    { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls until `check` returns a value that is not undefined, or fails with the last state. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
