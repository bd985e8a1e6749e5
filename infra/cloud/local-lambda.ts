import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lambda-host.mjs');

/** The handler threw (or rejected): what Lambda reports as a function error. */
export class LambdaInvokeError extends Error {
  override readonly name = 'LambdaInvokeError';
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(`${errorName}: ${message}`);
  }
}

interface Reply {
  id?: number;
  ready?: boolean;
  initMs?: number;
  ok?: boolean;
  result?: unknown;
  error?: { name: string; message: string };
}

/**
 * A synthesized bundle in its own Node process (lambda-host.mjs), invoked
 * one event at a time like a Lambda execution environment. The environment
 * is exactly `env`: nothing leaks in from the caller's process.
 */
export class LocalLambda {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  /** What the function wrote to stdout and stderr (its logs). */
  readonly logs: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly initMs: number,
  ) {}

  static async start(entryFile: string, env: Record<string, string>): Promise<LocalLambda> {
    const child = spawn(process.execPath, [HOST, entryFile], {
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    const replies = createInterface({ input: child.stdio[3] as Readable });
    const logs: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => logs.push(line));
    }
    const ready = await new Promise<Reply>((resolve, reject) => {
      replies.once('line', (line) => resolve(JSON.parse(line) as Reply));
      child.once('exit', (code) =>
        reject(new Error(`lambda host exited with ${code} during init:\n${logs.join('\n')}`)),
      );
      child.once('error', reject);
    });
    if (!ready.ready) {
      child.kill();
      throw new LambdaInvokeError(ready.error?.name ?? 'InitError', ready.error?.message ?? '');
    }
    const lambda = new LocalLambda(child, ready.initMs ?? Number.NaN);
    lambda.logs.push(...logs);
    replies.on('line', (line) => lambda.settle(JSON.parse(line) as Reply));
    child.once('exit', (code) => {
      for (const { reject } of lambda.pending.values()) {
        reject(new Error(`lambda host exited with ${code}`));
      }
      lambda.pending.clear();
    });
    return lambda;
  }

  invoke<T = unknown>(event: unknown, context: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      (this.child.stdin as Writable).write(`${JSON.stringify({ id, event, context })}\n`);
    });
  }

  private settle(reply: Reply): void {
    const waiter = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id!);
    if (reply.ok) waiter.resolve(reply.result);
    else
      waiter.reject(
        new LambdaInvokeError(reply.error?.name ?? 'Error', reply.error?.message ?? ''),
      );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
