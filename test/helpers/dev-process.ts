import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from './agent-process.js';

/** `wirefleet dev` as a real child process, as `npm start` runs it. */
export interface DevProcess {
  child: ChildProcess;
  /** Resolves once the ready banner is out; rejects if the process exits first. */
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** From the banner (after ready). */
  apiUrl(): string;
  /** Printed when the token is not from WIREFLEET_API_TOKEN. */
  token(): string | undefined;
  kill(signal: NodeJS.Signals): void;
}

/** Children still running, so a failed test does not leave a stack (and its agent) behind. */
const running = new Set<ChildProcess>();

/**
 * Stops any `wirefleet dev` a test left running (call from afterAll): SIGTERM, so it
 * stops its local agent too, and SIGKILL if it is still there after 20 s.
 */
export async function stopLeftoverDevs(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

export function spawnDev(env: Record<string, string>): DevProcess {
  const child = spawn(process.execPath, [CLI, 'dev'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Ctrl-C stops it')) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`wirefleet dev exited (${code ?? signal}) before it was ready:\n${err}`)),
    );
  });
  ready.catch(() => undefined); // callers that signal during start-up never await it
  return {
    child,
    ready,
    exited,
    stdout: () => out,
    stderr: () => err,
    apiUrl: () => {
      const url = /API\s+(http:\/\/\S+)\/api\/v1/.exec(err)?.[1];
      if (!url) throw new Error(`no API URL in the banner:\n${err}`);
      return url;
    },
    token: () => /API token\s+(wf_\S+)/.exec(err)?.[1],
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Starts `wirefleet dev` and waits for its banner; fails with its output if it never comes. */
export async function startDev(env: Record<string, string>, timeoutMs = 60_000) {
  const dev = spawnDev(env);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      dev.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`wirefleet dev did not start:\n${dev.stderr()}`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    dev.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return dev;
}

/** Lines on stderr that are not the banner or the stop notices: errors, warnings, stacks. */
export function unexpectedStderr(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /error|exception|warn|^\s+at |unhandled/i.test(line));
}
