import { checkUint, need, viewOf } from './bytes.js';
import type { Decoded } from './decoded.js';
import { DecodeError, EncodeError } from './errors.js';

// RFC 9300 §5.1 data-plane header: one flags byte, 24 bits of nonce/map-version, 32 bits of
// instance-id/locator-status-bits.

export const LISP_DATA_PORT = 4341;
export const LISP_CONTROL_PORT = 4342;
export const LISP_HEADER_LENGTH = 8;

const N = 0x80;
const L = 0x40;
const E = 0x20;
const V = 0x10;
const I = 0x08;

export interface LispFlags {
  N: boolean;
  L: boolean;
  E: boolean;
  V: boolean;
  I: boolean;
}

export interface LispDataHeader {
  flags: LispFlags;
  flagsByte: number;
  /** Low 3 bits of byte 0: R + KK (LISP-Crypto key id); zero for plain packets. */
  reserved: number;
  nonce?: number;
  sourceMapVersion?: number;
  destMapVersion?: number;
  instanceId?: number;
  /** 8 bits when I and L, 32 bits when only L, otherwise 0. */
  lsb: number;
}

export interface LispDataFields {
  nonce?: number;
  echoNonceRequest?: boolean;
  mapVersion?: { source: number; dest: number };
  instanceId?: number;
  /** Presence sets L. */
  lsb?: number;
}

export function encodeLispData(f: LispDataFields): Uint8Array {
  if (f.nonce !== undefined && f.mapVersion !== undefined) {
    throw new EncodeError(
      'lisp',
      'nonce and map-version share a field; N and V cannot both be set',
    );
  }
  if (f.echoNonceRequest && f.nonce === undefined) {
    throw new EncodeError('lisp', 'echo-nonce request (E) requires a nonce (N)');
  }
  const out = new Uint8Array(LISP_HEADER_LENGTH);
  const v = viewOf(out);
  let flags = 0;
  let word0 = 0;
  if (f.nonce !== undefined) {
    flags |= N | (f.echoNonceRequest ? E : 0);
    word0 = checkUint('lisp', 'nonce', f.nonce, 0xffffff);
  }
  if (f.mapVersion !== undefined) {
    flags |= V;
    const src = checkUint('lisp', 'source map-version', f.mapVersion.source, 0xfff);
    const dst = checkUint('lisp', 'dest map-version', f.mapVersion.dest, 0xfff);
    word0 = (src << 12) | dst;
  }
  let word1 = 0;
  if (f.instanceId !== undefined) {
    flags |= I;
    const iid = checkUint('lisp', 'instanceId', f.instanceId, 0xffffff);
    const lsb = f.lsb === undefined ? 0 : checkUint('lisp', 'lsb (with instance id)', f.lsb, 0xff);
    word1 = iid * 256 + lsb;
  } else if (f.lsb !== undefined) {
    word1 = checkUint('lisp', 'lsb', f.lsb, 0xffffffff);
  }
  if (f.lsb !== undefined) flags |= L;
  v.setUint32(0, flags * 0x1000000 + word0);
  v.setUint32(4, word1);
  return out;
}

export function decodeLispData(datagram: Uint8Array): Decoded<LispDataHeader> {
  need(datagram, 0, LISP_HEADER_LENGTH, 'lisp', 'header');
  const v = viewOf(datagram);
  const flagsByte = datagram[0]!;
  const flags: LispFlags = {
    N: (flagsByte & N) !== 0,
    L: (flagsByte & L) !== 0,
    E: (flagsByte & E) !== 0,
    V: (flagsByte & V) !== 0,
    I: (flagsByte & I) !== 0,
  };
  // Same conditions Wireshark flags as expert warnings (nv_invalid, en_invalid).
  if (flags.N && flags.V) throw new DecodeError('lisp', 'invalid', 'N and V cannot both be set', 0);
  if (flags.E && !flags.N) throw new DecodeError('lisp', 'invalid', 'E is set without N', 0);
  const word0 = v.getUint32(0) & 0xffffff;
  const word1 = v.getUint32(4);
  const header: LispDataHeader = { flags, flagsByte, reserved: flagsByte & 0x07, lsb: 0 };
  if (flags.N) header.nonce = word0;
  if (flags.V) {
    header.sourceMapVersion = word0 >>> 12;
    header.destMapVersion = word0 & 0xfff;
  }
  if (flags.I) {
    header.instanceId = word1 >>> 8;
    if (flags.L) header.lsb = word1 & 0xff;
  } else if (flags.L) {
    header.lsb = word1;
  }
  return {
    header,
    headerLength: LISP_HEADER_LENGTH,
    payload: datagram.subarray(LISP_HEADER_LENGTH),
  };
}

/** Set flags in header order, e.g. "N|L|I"; empty string when none are set. */
export function formatLispFlags(f: LispFlags): string {
  const names: (keyof LispFlags)[] = ['N', 'L', 'E', 'V', 'I'];
  return names.filter((n) => f[n]).join('|');
}
