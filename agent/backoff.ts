/**
 * Capped exponential backoff with full jitter, for reconnecting to the broker.
 * Jitter matters: after a broker restart every agent of a fleet reconnects at
 * once, and fixed delays would keep them in lock-step.
 *
 * Attempt n (from 0) waits a uniformly random time in
 * [minMs, min(maxMs, minMs * 2^(n+1))]: never less than minMs, so a broker that
 * fails instantly cannot cause a hot loop, and never more than maxMs.
 */

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** [0, 1), Math.random by default; injected in tests. */
  random?: () => number;
}

export class BackoffOptionsError extends Error {
  override readonly name = 'BackoffOptionsError';
}

function checkOptions({ minMs, maxMs }: BackoffOptions): void {
  if (!Number.isFinite(minMs) || minMs <= 0) {
    throw new BackoffOptionsError(`backoff minMs must be a positive number, got ${minMs}`);
  }
  if (!Number.isFinite(maxMs) || maxMs < minMs) {
    throw new BackoffOptionsError(`backoff maxMs must be at least minMs (${minMs}), got ${maxMs}`);
  }
}

/** The delay before retry number `attempt` (0 = the first retry). */
export function nextDelay(attempt: number, options: BackoffOptions): number {
  checkOptions(options);
  const { minMs, maxMs } = options;
  const random = options.random ?? Math.random;
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2^(n+1) overflows to Infinity for large n, which Math.min caps.
  const ceiling = Math.min(maxMs, minMs * 2 ** (n + 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(minMs + r * (ceiling - minMs));
}

/** nextDelay with the attempt counter kept: next() after a failure, reset() after a success. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;

  constructor(options: BackoffOptions) {
    checkOptions(options);
    this.#options = options;
  }

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    const delay = nextDelay(this.#attempt, this.#options);
    this.#attempt += 1;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
