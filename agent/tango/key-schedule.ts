import { deriveEpochKey } from '../../native/tango.js';

/**
 * When a Tango node changes keys. Both sites derive every epoch's key from the secret they share
 * (deriveEpochKey), and epoch n covers wall-clock time [n·epochSeconds, (n+1)·epochSeconds), so
 * the two nodes rotate without a message between them. Around each boundary:
 *
 *   boundary − lead   receivers accept the new epoch (the old one stays valid for the C core's
 *                     grace period, default 30 s)
 *   boundary + lag    senders sign with it
 *
 * so a receiver always holds the key of what the peer sends, provided the two clocks differ by
 * less than lead (and lag): NTP keeps them within milliseconds; 5 s each is the default margin.
 * The C core refuses a frame signed under an epoch it no longer accepts as `wrong_epoch`.
 */

/** What the schedule drives: TangoNode's key methods. */
export interface KeyedNode {
  setSendKey(epoch: number, key: Uint8Array): void;
  rotateReceiveKey(epoch: number, key: Uint8Array, nowNs?: bigint): void;
}

export interface KeyScheduleOptions {
  /** The secret the pair shares (32 bytes or more, from a 0600 file). */
  pairSecret: Uint8Array;
  /** Length of an epoch; default 3600 (hourly keys). */
  epochSeconds?: number;
  /** Receivers take the next epoch this long before the boundary; default 5000. */
  leadMs?: number;
  /** Senders move to it this long after the boundary; default 5000. */
  lagMs?: number;
}

export class KeySchedule {
  readonly epochMs: number;
  readonly leadMs: number;
  readonly lagMs: number;
  private readonly secret: Uint8Array;
  private sendEpoch = -1;
  private receiveEpoch = -1;

  constructor(options: KeyScheduleOptions) {
    const epochSeconds = options.epochSeconds ?? 3600;
    if (!Number.isInteger(epochSeconds) || epochSeconds < 60 || epochSeconds > 86_400 * 7) {
      throw new RangeError('epochSeconds must be an integer 60..604800');
    }
    this.epochMs = epochSeconds * 1000;
    this.leadMs = options.leadMs ?? 5000;
    this.lagMs = options.lagMs ?? 5000;
    if (this.leadMs < 0 || this.lagMs < 0 || this.leadMs + this.lagMs >= this.epochMs / 2) {
      throw new RangeError('leadMs and lagMs must be >= 0 and together under half an epoch');
    }
    this.secret = options.pairSecret;
    // deriveEpochKey checks the secret's length; fail here, not at the first tick.
    deriveEpochKey(this.secret, 0);
  }

  /** The epoch whose key signs what is sent at nowMs. */
  sendEpochAt(nowMs: number): number {
    return Math.floor((nowMs - this.lagMs) / this.epochMs);
  }

  /** The newest epoch a receiver accepts at nowMs. */
  receiveEpochAt(nowMs: number): number {
    return Math.floor((nowMs + this.leadMs) / this.epochMs);
  }

  /**
   * Installs whatever is due at nowMs and returns when to call again. The first call also
   * installs the previous receive epoch (a peer whose clock is a little behind still sends
   * under it; the C core keeps it for its grace period).
   */
  tick(node: KeyedNode, nowMs: number): { nextTickMs: number; changed: string[] } {
    const changed: string[] = [];
    const wantReceive = this.receiveEpochAt(nowMs);
    if (this.receiveEpoch < 0 && wantReceive > 0) this.install(node, wantReceive - 1, nowMs);
    while (this.receiveEpoch < wantReceive) {
      const next = this.receiveEpoch < 0 ? wantReceive : this.receiveEpoch + 1;
      this.install(node, next, nowMs);
      changed.push(`receive epoch ${next}`);
    }
    const wantSend = this.sendEpochAt(nowMs);
    if (wantSend !== this.sendEpoch) {
      node.setSendKey(wantSend, deriveEpochKey(this.secret, wantSend));
      this.sendEpoch = wantSend;
      changed.push(`send epoch ${wantSend}`);
    }
    const nextReceive = (wantReceive + 1) * this.epochMs - this.leadMs;
    const nextSend = (wantSend + 1) * this.epochMs + this.lagMs;
    return { nextTickMs: Math.min(nextReceive, nextSend), changed };
  }

  private install(node: KeyedNode, epoch: number, nowMs: number): void {
    node.rotateReceiveKey(epoch, deriveEpochKey(this.secret, epoch), BigInt(nowMs) * 1_000_000n);
    this.receiveEpoch = epoch;
  }
}
