import { loadEngine } from './index.js';

/**
 * The impairment relay (native/src/relay.h): a transparent L2 relay between two interfaces that
 * delays, drops and reorders frames on its own C thread, for `wirefleet tango simulate` (this
 * kernel has no `tc netem`). Frames keep their MAC addresses; each direction has its own
 * impairment, seeded PRNG and bounded release queue.
 */

/** What one direction does to frames. */
export interface RelayImpairment {
  /** Fixed one-way delay, 0..60000 ms. */
  delayMs?: number;
  /** Plus a uniform 0..jitterMs; jitter never reorders frames. */
  jitterMs?: number;
  /** Fraction of frames dropped, [0, 1). */
  loss?: number;
  /** Fraction of frames held back reorderDelayMs more, so later frames overtake them; [0, 1]. */
  reorder?: number;
  /** How much longer a reordered frame is held; default 10 ms. */
  reorderDelayMs?: number;
}

export interface RelayOptions {
  /**
   * The network namespace the relay works in: a name under /run/netns (`ip netns add NAME`) or an
   * absolute path. Only the relay's thread joins it (setns), so the caller stays where it is.
   * Default: the caller's namespace.
   */
  netns?: string;
  interfaceA: string;
  interfaceB: string;
  /** Frames received on interfaceA and sent out of interfaceB. */
  aToB?: RelayImpairment;
  bToA?: RelayImpairment;
  /** Seed of the PRNGs (each direction derives its own stream); fixed by default. */
  seed?: bigint | number;
  /** Frames waiting per direction before new ones are dropped; default 4096. */
  queueLimit?: number;
}

export interface RelayDirectionStats {
  received: number;
  forwarded: number;
  /** Link-layer bytes forwarded. */
  forwarded_bytes: number;
  dropped_loss: number;
  dropped_queue_full: number;
  /** Frames held back (then forwarded, or dropped if the relay stops first). */
  reordered: number;
  /** Frames the kernel refused to send. */
  send_errors: number;
  /** Frames waiting now. */
  queued: number;
  /** Errors the source interface reported (it went down or away). */
  interface_errors: number;
}

export interface RelayStats {
  forwarded: number;
  dropped_loss: number;
  dropped_queue_full: number;
  reordered: number;
  a_to_b: RelayDirectionStats;
  b_to_a: RelayDirectionStats;
}

interface NativeRelay {
  stats(): RelayStats;
  stop(): void;
}

interface RelayModule {
  ImpairmentRelay?: new (options: RelayOptions) => NativeRelay;
}

/** The relay could not start: a bad option, no such namespace or interface, no privilege. */
export class RelayStartError extends Error {
  override readonly name = 'RelayStartError';
}

/** A running relay; stop() it (its thread and sockets live until then). */
export class ImpairmentRelay {
  private readonly native: NativeRelay;

  private constructor(native: NativeRelay) {
    this.native = native;
  }

  /** Starts the relay; its sockets are open when this returns. Needs CAP_NET_RAW (and
   * CAP_SYS_ADMIN for netns). */
  static start(options: RelayOptions): ImpairmentRelay {
    const engine = loadEngine() as unknown as RelayModule;
    if (!engine.ImpairmentRelay) {
      throw new RelayStartError(
        'this build of the native engine has no impairment relay (rebuild: npm run build:native)',
      );
    }
    try {
      return new ImpairmentRelay(new engine.ImpairmentRelay(options));
    } catch (error) {
      throw new RelayStartError(`impairment relay: ${(error as Error).message}`);
    }
  }

  /** Counters so far (the final ones after stop()). */
  stats(): RelayStats {
    return this.native.stats();
  }

  /** Stops the thread and closes the sockets; frames still queued are dropped. Idempotent. */
  stop(): void {
    this.native.stop();
  }
}
