import { hkdfSync } from 'node:crypto';
import { loadEngine } from './index.js';

/**
 * Tango tunnel nodes, done in C (native/src/tango*.c, binding in native/binding/tango.cc).
 *
 * A node is one end of a pair of sites: it encapsulates inner IPv4 packets onto up to 8 paths
 * (Ethernet / IPv6 / UDP 61042 / 10-byte Tango header / inner IPv4), and verifies what the peer
 * sends: UDP checksum, tunnel addresses, a 32-bit SipHash-2-4 tag and a 1-bit book signature
 * under the current or previous epoch key, freshness, and a replay window; it measures loss,
 * reordering, one-way delay and jitter per path. This class moves single frames between JS and
 * C (tests, tools, control traffic); a forwarding loop in C takes the node by `nativeHandle`.
 */

/** Why a received frame was refused, in the order the receiver checks. */
export const TANGO_REJECT_REASONS = [
  'truncated',
  'not_tango',
  'bad_checksum',
  'malformed',
  'unknown_path',
  'address_mismatch',
  'bad_inner',
  'stale',
  'ahead',
  'no_key',
  'bad_signature',
  'wrong_epoch',
  'replay',
  'outside_window',
] as const;
export type TangoRejectReason = (typeof TANGO_REJECT_REASONS)[number];

export type TangoEncapsulateErrorCode =
  | 'buffer_too_small'
  | 'too_big'
  | 'bad_inner'
  | 'unknown_path'
  | 'no_key';

export interface TangoNodeOptions {
  /** Which end of the pair this node is (0 or 1); the peer is the other. Signed into every tag. */
  side: 0 | 1;
  /** UDP port of the shim at both ends, default 61042. */
  udpPort?: number;
  /** Outer IPv6 hop limit, default 64. */
  hopLimit?: number;
  /** Outer IPv6 MTU of every path, 1280..9216, default 1500 (inner packets up to mtu - 58). */
  mtu?: number;
  /** Timestamps older than this are stale; default 750. maxAgeMs + maxAheadMs <= 1000. */
  maxAgeMs?: number;
  /** Timestamps further ahead of our clock (after the clock offset) are refused; default 250. */
  maxAheadMs?: number;
  /** The previous receive epoch stays valid this long after a rotation; default 30 000. */
  graceMs?: number;
}

/** One path as this node sees it (the peer configures the same path with the sides swapped). */
export interface TangoPath {
  /** 0..7. */
  pathId: number;
  /** This node's tunnel address on the path. */
  localAddress: string;
  /** The peer's tunnel address on the path: one destination per path. */
  peerAddress: string;
  localMac: string;
  /** Ethernet destination towards peerAddress (the next hop on this path). */
  nextHopMac: string;
}

export interface TangoDelivery {
  ok: true;
  pathId: number;
  seq: number;
  /** The 12-bit timestamp as sent (2^20 ns ticks of the sender clock). */
  timestamp: number;
  /** The key epoch the packet verified under. */
  epoch: number;
  /** The inner IPv4 packet, a view into the frame that was passed in. */
  inner: Uint8Array;
  innerOffset: number;
  innerLength: number;
  /** One-way delay sample in ns, clock offset applied (the timestamp quantises it to ±0.53 ms). */
  delayNs: number;
  /** Outer traffic class (its ECN bits are for RFC 6040 decapsulation). */
  trafficClass: number;
  /** Arrived after a higher sequence number. */
  reordered: boolean;
  /** Started a new window: the path's first packet or a sender restart. */
  resync: boolean;
}

export type TangoReceiveResult = TangoDelivery | { ok: false; reason: TangoRejectReason };

export type TangoRejectCounts = Record<TangoRejectReason, number>;

/** Counters of one path since the node was made; rates come from differences between reads. */
export interface TangoPathStats {
  configured: boolean;
  tx_packets: number;
  /** Inner IPv4 bytes. */
  tx_bytes: number;
  tx_next_seq: number;
  /** Accepted packets. */
  rx_packets: number;
  rx_bytes: number;
  /** Sequence numbers spanned by accepted packets (wrap-safe); rx_lost = rx_expected - rx_packets. */
  rx_expected: number;
  rx_lost: number;
  rx_reordered: number;
  rx_resyncs: number;
  rx_top_seq: number;
  /** Epoch ns of the last accepted packet (receiver clock). */
  rx_last_ns: number;
  delay_samples: number;
  delay_last_ns: number;
  delay_min_ns: number;
  delay_max_ns: number;
  delay_sum_ns: number;
  /** RFC 3550 interarrival jitter estimate. */
  jitter_ns: number;
  /** Refusals that named this path (those before the path is known count only node-wide). */
  rejects: TangoRejectCounts;
}

export interface TangoNodeStats {
  rx_frames: number;
  rx_accepted: number;
  tx_packets: number;
  tx_errors: number;
  rejects: TangoRejectCounts;
}

/** encapsulate() refused the packet; `code` says why. Nothing was sent or numbered. */
export class TangoEncapsulateError extends Error {
  override readonly name = 'TangoEncapsulateError';
  constructor(
    readonly code: TangoEncapsulateErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface NativeTangoNode {
  setPath(path: TangoPath): void;
  setSendKey(epoch: number, key: Uint8Array): void;
  rotateReceiveKey(epoch: number, key: Uint8Array, nowNs?: bigint): void;
  setClockOffset(peerMinusLocalNs: bigint): void;
  encapsulate(pathId: number, inner: Uint8Array, nowNs?: bigint): Uint8Array;
  decapsulate(
    frame: Uint8Array,
    nowNs?: bigint,
  ): Omit<TangoDelivery, 'inner'> | { ok: false; reason: TangoRejectReason };
  pathStats(pathId: number): TangoPathStats;
  stats(): TangoNodeStats;
  close(): void;
}

interface TangoModule {
  TangoNode: new (options: TangoNodeOptions) => NativeTangoNode;
}

export const TANGO_EPOCH_KEY_LENGTH = 16;
const KDF_SALT = new TextEncoder().encode('wirefleet tango v1');

/**
 * The 16-byte key of one epoch, from the secret the two sites share (HKDF-SHA256, RFC 5869,
 * info = "epoch" + the epoch as 4 bytes big-endian). Both ends derive the same keys; rotating is
 * moving to the next epoch number, so the shared secret itself never goes on the wire.
 */
export function deriveEpochKey(pairSecret: Uint8Array, epoch: number): Uint8Array {
  if (pairSecret.length < 32) throw new RangeError('the pair secret must be at least 32 bytes');
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new RangeError('epoch must be an integer 0..4294967295');
  }
  const info = new Uint8Array(9);
  info.set(new TextEncoder().encode('epoch'), 0);
  new DataView(info.buffer).setUint32(5, epoch);
  return new Uint8Array(hkdfSync('sha256', pairSecret, KDF_SALT, info, TANGO_EPOCH_KEY_LENGTH));
}

/** The node is held by a running forwarder and was called outside its locked(). */
export class TangoNodeHeldError extends Error {
  override readonly name = 'TangoNodeHeldError';
  constructor() {
    super(
      'a running Tango forwarder holds this node: call it inside forwarder.locked(), or stop the forwarder first',
    );
  }
}

/** Nodes a running TangoForwarder holds, and how deep the caller is inside its locked(). */
const forwarderHolds = new WeakMap<TangoNode, { inside: number }>();

/** For TangoForwarder: the node becomes its thread's (start) or free again (stop). */
export function setHeldByForwarder(node: TangoNode, held: boolean): void {
  if (held) forwarderHolds.set(node, { inside: 0 });
  else forwarderHolds.delete(node);
}

/** For TangoForwarder.locked(): runs fn (under the forwarder's lock) with the node usable. */
export function withHeldNode<T>(node: TangoNode, fn: () => T): T {
  const hold = forwarderHolds.get(node);
  if (hold) hold.inside++;
  try {
    return fn();
  } finally {
    if (hold) hold.inside--;
  }
}

/** One end of a Tango pair, backed by the C engine. */
export class TangoNode {
  private readonly handle: NativeTangoNode;

  constructor(options: TangoNodeOptions) {
    const engine = loadEngine() as unknown as TangoModule;
    this.handle = new engine.TangoNode(options);
  }

  /** The native handle a C forwarding loop takes (binding/tango_binding.h UnwrapTangoNode). */
  get nativeHandle(): object {
    return this.handle;
  }

  /** Every method goes through here: while a forwarder runs, only inside its locked(). */
  private get native(): NativeTangoNode {
    const hold = forwarderHolds.get(this);
    if (hold && hold.inside === 0) throw new TangoNodeHeldError();
    return this.handle;
  }

  /** Adds or replaces a path; its counters and replay window are kept when replaced. */
  setPath(path: TangoPath): void {
    this.native.setPath(path);
  }

  /** The epoch key this node signs with from now on. */
  setSendKey(epoch: number, key: Uint8Array): void {
    this.native.setSendKey(epoch, key);
  }

  /**
   * Makes `epoch` the current receive key; the previous one stays valid for graceMs. Rotate
   * both receivers before either sender moves to the new epoch.
   */
  rotateReceiveKey(epoch: number, key: Uint8Array, nowNs?: bigint): void {
    this.native.rotateReceiveKey(epoch, key, nowNs);
  }

  /** The peer's clock minus ours, in ns (how it is estimated is the caller's business). */
  setClockOffset(peerMinusLocalNs: bigint): void {
    this.native.setClockOffset(peerMinusLocalNs);
  }

  /** One frame for `pathId`, stamped at `nowNs` (epoch ns; default the realtime clock). */
  encapsulate(pathId: number, inner: Uint8Array, nowNs?: bigint): Uint8Array {
    try {
      return this.native.encapsulate(pathId, inner, nowNs);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code && isEncapsulateCode(code)) {
        throw new TangoEncapsulateError(code, (error as Error).message);
      }
      throw error;
    }
  }

  /** Verifies one received frame at `nowNs` (default the realtime clock) and counts the result. */
  decapsulate(frame: Uint8Array, nowNs?: bigint): TangoReceiveResult {
    const result = this.native.decapsulate(frame, nowNs);
    if (!result.ok) return result;
    const inner = frame.subarray(result.innerOffset, result.innerOffset + result.innerLength);
    return { ...result, inner };
  }

  pathStats(pathId: number): TangoPathStats {
    return this.native.pathStats(pathId);
  }

  stats(): TangoNodeStats {
    return this.native.stats();
  }

  /** Zeroes the keys and frees the node. */
  close(): void {
    this.native.close();
  }
}

const ENCAPSULATE_CODES: readonly string[] = [
  'buffer_too_small',
  'too_big',
  'bad_inner',
  'unknown_path',
  'no_key',
];

function isEncapsulateCode(code: string): code is TangoEncapsulateErrorCode {
  return ENCAPSULATE_CODES.includes(code);
}
