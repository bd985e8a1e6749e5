import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, fchmodSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { MAX_SIMULATED_PATHS } from '../../agent/tango/simulate.js';
import { UsageError } from './options.js';
import { onStopSignals } from './stop-signals.js';

/**
 * `wirefleet tango simulate`: the whole Tango topology on this machine in network namespaces
 * (agent/tango/simulate-run.ts), one JSON document on stdout, progress on stderr.
 */

export const TANGO_USAGE =
  'usage: wirefleet tango secret --out FILE | wirefleet tango simulate --paths N --delay-ms a,b,... --loss p,q,... [--reorder x,y,...] --seconds S [--rate PPS] [--write FILE] (PPS: datagrams per second on each path, default 500)';

/** Delays above this would make frames stale to the receiving node (its max age is 750 ms). */
const MAX_DELAY_MS = 500;

const list = (name: string) =>
  z
    .string()
    .transform((text) => text.split(',').map((v) => v.trim()))
    .pipe(
      z.array(
        z
          .string()
          .regex(/^\d+(\.\d+)?$/, `--${name} takes comma-separated numbers`)
          .transform(Number),
      ),
    );

const simulateSchema = z
  .object({
    paths: z.coerce.number().int().min(1).max(MAX_SIMULATED_PATHS),
    'delay-ms': list('delay-ms').pipe(z.array(z.number().int().max(MAX_DELAY_MS))),
    loss: list('loss').pipe(z.array(z.number().min(0).lt(1, 'a loss fraction is below 1'))),
    reorder: list('reorder')
      .pipe(z.array(z.number().min(0).max(1)))
      .optional(),
    seconds: z.coerce.number().positive().max(3600),
    rate: z.coerce.number().int().min(10).max(20_000).default(500),
    write: z.string().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.seconds * o.rate < 10) {
      ctx.addIssue({
        code: 'custom',
        path: ['seconds'],
        message: 'too short to measure: seconds x rate must give at least 10 datagrams per path',
      });
    }
    for (const key of ['delay-ms', 'loss', 'reorder'] as const) {
      const values = o[key];
      if (values && values.length !== o.paths) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `needs ${o.paths} values (one per path), got ${values.length}`,
        });
      }
    }
  });

export type SimulateArgs = z.infer<typeof simulateSchema>;

/** Checks the arguments of `tango simulate`; throws UsageError with every problem on one line. */
export function parseSimulateArgs(values: Record<string, string | undefined>): SimulateArgs {
  const parsed = simulateSchema.safeParse(values);
  if (!parsed.success) {
    throw new UsageError(
      `tango simulate: ${parsed.error.issues.map((i) => `--${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Dispatches `wirefleet tango ...`; returns the exit code (usage errors are thrown to main). */
export async function runTangoCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'secret') return runSecret(rest);
  if (sub !== 'simulate') throw new UsageError(TANGO_USAGE);
  const { values } = parseArgs({
    args: rest,
    options: {
      paths: { type: 'string' },
      'delay-ms': { type: 'string' },
      loss: { type: 'string' },
      reorder: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      write: { type: 'string', short: 'w' },
    },
    strict: true,
  });
  for (const required of ['paths', 'delay-ms', 'loss', 'seconds'] as const) {
    if (values[required] === undefined)
      throw new UsageError(`tango simulate needs --${required}\n${TANGO_USAGE}`);
  }
  const args = parseSimulateArgs(values);
  if (args.write) checkWritableDir(args.write);
  if (process.getuid?.() !== 0) {
    throw new UsageError(
      'tango simulate needs root (network namespaces, veth, TUN and AF_PACKET): run it with sudo',
    );
  }
  const { runSimulation } = await import('../../agent/tango/simulate-run.js');
  const controller = new AbortController();
  const removeHandlers = onStopSignals({
    stop: (signal) => controller.abort(new SimulationInterruptedError(`interrupted by ${signal}`)),
    force: () => process.exit(130),
  });
  try {
    const result = await runSimulation({
      paths: args['delay-ms'].map((delayMs, i) => ({
        delayMs,
        loss: args.loss[i]!,
        reorder: args.reorder?.[i] ?? 0,
      })),
      seconds: args.seconds,
      rate: args.rate,
      write: args.write,
      signal: controller.signal,
      log: (line) => process.stderr.write(`wirefleet tango simulate: ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (controller.signal.aborted) {
      process.stderr.write(
        `wirefleet tango simulate: ${(controller.signal.reason as Error).message}, cleaned up\n`,
      );
      return 130;
    }
    throw error;
  } finally {
    removeHandlers();
  }
}

/**
 * `wirefleet tango secret --out FILE`: the secret a pair of sites shares (32 random bytes as hex),
 * created 0600 and never over an existing file: replacing it on one site cuts the tunnel.
 */
function runSecret(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string', short: 'o' } },
    strict: true,
  });
  if (!values.out) throw new UsageError('tango secret needs --out FILE');
  let fd: number;
  try {
    fd = openSync(values.out, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'EEXIST'
        ? `tango secret: ${values.out} already exists; refusing to replace a pair secret`
        : `tango secret: cannot create ${values.out}: ${(error as Error).message}`,
    );
  }
  const secret = randomBytes(32);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${secret.toString('hex')}\n`);
  } finally {
    closeSync(fd);
    secret.fill(0);
  }
  process.stderr.write(
    `wirefleet tango secret: wrote ${values.out} (0600); copy it to the peer site over a channel you trust\n`,
  );
  return 0;
}

/** --write is written at the end of the run: refuse a file that could not be, before starting. */
function checkWritableDir(file: string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`--write: cannot write in ${dir}`);
  }
}

export class SimulationInterruptedError extends Error {
  override readonly name = 'SimulationInterruptedError';
}
