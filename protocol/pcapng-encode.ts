import { checkUint, concatBytes, pad4, viewOf } from './bytes.js';
import { EncodeError } from './errors.js';

// pcapng writers (draft-ietf-opsawg-pcapng), always little-endian. Import from './pcapng.js'.

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 1;
export const BLOCK_PB = 2;
export const BLOCK_SPB = 3;
export const BLOCK_EPB = 6;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const OPT_SHB_HARDWARE = 2;
export const OPT_SHB_OS = 3;
export const OPT_SHB_USERAPPL = 4;
export const OPT_IF_NAME = 2;
export const OPT_IF_TSRESOL = 9;

const utf8 = new TextEncoder();

function option(code: number, value: Uint8Array): Uint8Array {
  if (value.length > 0xffff)
    throw new EncodeError('pcapng', `option ${code} longer than 65535 bytes`);
  const out = new Uint8Array(4 + pad4(value.length));
  const v = viewOf(out);
  v.setUint16(0, code, true);
  v.setUint16(2, value.length, true);
  out.set(value, 4);
  return out;
}

/** Options followed by opt_endofopt, or nothing at all when there are none. */
function optionList(options: [number, Uint8Array][]): Uint8Array[] {
  if (options.length === 0) return [];
  return [...options.map(([c, val]) => option(c, val)), option(OPT_ENDOFOPT, new Uint8Array(0))];
}

function block(type: number, parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(parts);
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const v = viewOf(out);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  out.set(body, 8);
  v.setUint32(total - 4, total, true);
  return out;
}

export function encodeSectionHeader(o?: {
  userAppl?: string;
  os?: string;
  hardware?: string;
  comment?: string;
}): Uint8Array {
  const fixed = new Uint8Array(16);
  const v = viewOf(fixed);
  v.setUint32(0, BYTE_ORDER_MAGIC, true);
  v.setUint16(4, 1, true);
  v.setUint16(6, 0, true);
  v.setBigInt64(8, -1n, true); // section length unknown: lets writers stream
  const opts: [number, Uint8Array][] = [];
  if (o?.comment !== undefined) opts.push([OPT_COMMENT, utf8.encode(o.comment)]);
  if (o?.hardware !== undefined) opts.push([OPT_SHB_HARDWARE, utf8.encode(o.hardware)]);
  if (o?.os !== undefined) opts.push([OPT_SHB_OS, utf8.encode(o.os)]);
  if (o?.userAppl !== undefined) opts.push([OPT_SHB_USERAPPL, utf8.encode(o.userAppl)]);
  return block(BLOCK_SHB, [fixed, ...optionList(opts)]);
}

export function encodeInterfaceDescription(o: {
  linktype: number;
  snaplen?: number;
  name?: string;
  tsresolNanos?: boolean;
}): Uint8Array {
  const fixed = new Uint8Array(8);
  const v = viewOf(fixed);
  v.setUint16(0, checkUint('pcapng', 'linktype', o.linktype, 0xffff), true);
  v.setUint32(4, checkUint('pcapng', 'snaplen', o.snaplen ?? 262144, 0xffffffff), true);
  const opts: [number, Uint8Array][] = [];
  if (o.name !== undefined) opts.push([OPT_IF_NAME, utf8.encode(o.name)]);
  // Written even for the µs default so readers never have to guess.
  opts.push([OPT_IF_TSRESOL, Uint8Array.of(o.tsresolNanos ? 9 : 6)]);
  return block(BLOCK_IDB, [fixed, ...optionList(opts)]);
}

export function encodeEnhancedPacket(
  p: {
    interfaceId?: number;
    timestampNs: bigint;
    data: Uint8Array;
    originalLength?: number;
    comments?: string[];
  },
  o: { tsresolNanos: boolean },
): Uint8Array {
  const units = o.tsresolNanos ? p.timestampNs : p.timestampNs / 1000n;
  if (units < 0n || units > 0xffffffffffffffffn) {
    throw new EncodeError('pcapng', 'timestamp does not fit 64 bits of interface time units');
  }
  const originalLength = checkUint(
    'pcapng',
    'originalLength',
    p.originalLength ?? p.data.length,
    0xffffffff,
  );
  if (originalLength < p.data.length) {
    throw new EncodeError('pcapng', 'originalLength is smaller than the captured data');
  }
  const interfaceId = checkUint('pcapng', 'interfaceId', p.interfaceId ?? 0, 0xffffffff);
  const comments = (p.comments ?? []).map((c) => utf8.encode(c));
  for (const c of comments) {
    if (c.length > 0xffff) throw new EncodeError('pcapng', 'comment longer than 65535 bytes');
  }
  // One buffer per packet: this runs once for every packet of an export.
  const optionsLength =
    comments.length === 0 ? 0 : comments.reduce((n, c) => n + 4 + pad4(c.length), 4);
  const total = 12 + 20 + pad4(p.data.length) + optionsLength;
  const out = new Uint8Array(total);
  const v = viewOf(out);
  v.setUint32(0, BLOCK_EPB, true);
  v.setUint32(4, total, true);
  v.setUint32(8, interfaceId, true);
  v.setUint32(12, Number(units >> 32n), true);
  v.setUint32(16, Number(units & 0xffffffffn), true);
  v.setUint32(20, p.data.length, true);
  v.setUint32(24, originalLength, true);
  out.set(p.data, 28);
  let at = 28 + pad4(p.data.length);
  for (const c of comments) {
    v.setUint16(at, OPT_COMMENT, true);
    v.setUint16(at + 2, c.length, true);
    out.set(c, at + 4);
    at += 4 + pad4(c.length);
  }
  // opt_endofopt (code 0, length 0) is already zero bytes when options exist.
  v.setUint32(total - 4, total, true);
  return out;
}
