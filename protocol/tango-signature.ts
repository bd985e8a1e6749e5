import { siphash24 } from './siphash.js';

// Tango signatures as native/src/tango_sig.c documents them, written independently from that
// description: three SipHash-2-4 keys per epoch key, a keyed digest of the inner packet, a
// 32-bit tag and a 1-bit book signature. Pure; used to check the C encoder and by readers of
// captures that hold the epoch key.

const encoder = new TextEncoder();

export interface TangoEpochSubkeys {
  tag: Uint8Array;
  book: Uint8Array;
  inner: Uint8Array;
}

/** Kx = SipHash-2-4-128(epoch key, "wirefleet tango x1"). */
export function tangoSubkeys(epochKey: Uint8Array): TangoEpochSubkeys {
  const sub = (label: string) => siphash24(epochKey, encoder.encode(label), 16);
  return {
    tag: sub('wirefleet tango tag1'),
    book: sub('wirefleet tango book1'),
    inner: sub('wirefleet tango inner1'),
  };
}

export interface TangoSignedFields {
  /** The sender's side of the pair (0 or 1). */
  side: number;
  pathId: number;
  epoch: number;
  /** The sender clock in 2^20 ns ticks, in full (the wire carries its low 12 bits). */
  tick: bigint;
  sequence: number;
}

/** ns since the epoch -> the tick the tag covers. */
export const tangoTickOf = (ns: bigint): bigint => ns >> 20n;

function head(m: Uint8Array, side: number, pathId: number, epoch: number): DataView {
  const v = new DataView(m.buffer, m.byteOffset, m.byteLength);
  m[0] = 1;
  m[1] = side;
  m[2] = pathId;
  m[3] = 0;
  v.setUint32(4, epoch);
  return v;
}

/** The 32-bit signature field of the Tango header (as the big-endian u32 on the wire). */
export function tangoSignature(
  epochKey: Uint8Array,
  f: TangoSignedFields,
  inner: Uint8Array,
): number {
  const keys = tangoSubkeys(epochKey);
  const digest = siphash24(keys.inner, inner);
  const m = new Uint8Array(28);
  const v = head(m, f.side, f.pathId, f.epoch);
  v.setBigUint64(8, BigInt.asUintN(64, f.tick));
  v.setUint16(16, f.sequence);
  m.set(digest, 20);
  const out = siphash24(keys.tag, m);
  return new DataView(out.buffer).getUint32(0, true);
}

/** The book bit: a keyed PRF of the sequence number (and side, path, epoch). */
export function tangoBook(epochKey: Uint8Array, f: Omit<TangoSignedFields, 'tick'>): 0 | 1 {
  const m = new Uint8Array(10);
  head(m, f.side, f.pathId, f.epoch).setUint16(8, f.sequence);
  return (siphash24(tangoSubkeys(epochKey).book, m)[0]! & 1) as 0 | 1;
}
