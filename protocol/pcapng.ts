import { pad4, viewOf } from './bytes.js';
import { DecodeError } from './errors.js';
import {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_PB,
  BLOCK_SHB,
  BLOCK_SPB,
  BYTE_ORDER_MAGIC,
  OPT_COMMENT,
  OPT_ENDOFOPT,
  OPT_IF_TSRESOL,
} from './pcapng-encode.js';

export {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_SHB,
  BLOCK_SPB,
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
} from './pcapng-encode.js';

export const PCAPNG_MEDIA_TYPE = 'application/x-pcapng';

export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

export type PcapngBlock =
  | {
      type: 'shb';
      byteOrder: 'little' | 'big';
      versionMajor: number;
      versionMinor: number;
      options: PcapngOption[];
    }
  | {
      type: 'idb';
      linktype: number;
      snaplen: number;
      tsresol: { base: 10 | 2; exponent: number };
      options: PcapngOption[];
    }
  | {
      type: 'epb';
      interfaceId: number;
      timestampNs: bigint;
      data: Uint8Array;
      originalLength: number;
      comments: string[];
      options: PcapngOption[];
    }
  | { type: 'spb'; data: Uint8Array; originalLength: number }
  | { type: 'other'; blockType: number; length: number };

type Tsresol = { base: 10 | 2; exponent: number };
type Iface = { snaplen: number; tsresol: Tsresol };

const NS_PER_S = 1_000_000_000n;
const utf8 = new TextDecoder('utf-8');

function invalid(message: string, offset: number): DecodeError {
  return new DecodeError('pcapng', 'invalid', message, offset);
}

/** Throws unless `len` bytes at `off` lie inside a block body of `size` bytes. */
function inside(size: number, off: number, len: number, what: string, base: number) {
  if (off + len > size) throw invalid(`${what} overruns its block`, base + off);
}

/** Options region up to opt_endofopt; a missing end marker is tolerated, as by libpcap. */
function readOptions(region: Uint8Array, little: boolean, base: number): PcapngOption[] {
  const v = viewOf(region);
  const out: PcapngOption[] = [];
  let at = 0;
  while (at < region.length) {
    inside(region.length, at, 4, 'option header', base);
    const code = v.getUint16(at, little);
    const len = v.getUint16(at + 2, little);
    if (code === OPT_ENDOFOPT) break;
    inside(region.length, at + 4, len, `option ${code}`, base);
    out.push({ code, value: region.subarray(at + 4, at + 4 + len) });
    at += 4 + pad4(len);
  }
  return out;
}

function tsresolOf(options: PcapngOption[], base: number): Tsresol {
  const opt = options.find((o) => o.code === OPT_IF_TSRESOL);
  if (!opt) return { base: 10, exponent: 6 };
  const b = opt.value[0];
  if (b === undefined) throw invalid('empty if_tsresol option', base);
  // MSB set: negative power of two; otherwise negative power of ten.
  return b & 0x80 ? { base: 2, exponent: b & 0x7f } : { base: 10, exponent: b };
}

function toNs(units: bigint, r: Tsresol): bigint {
  if (r.base === 2) return (units * NS_PER_S) >> BigInt(r.exponent);
  const e = r.exponent;
  return e <= 9 ? units * 10n ** BigInt(9 - e) : units / 10n ** BigInt(e - 9);
}

function packetBlock(
  body: Uint8Array,
  little: boolean,
  base: number,
  interfaces: Iface[],
  obsolete: boolean,
): PcapngBlock {
  const v = viewOf(body);
  inside(body.length, 0, 20, 'packet block fields', base);
  // The obsolete Packet Block (type 2) has a 16-bit interface id followed by a drop count.
  const interfaceId = obsolete ? v.getUint16(0, little) : v.getUint32(0, little);
  const iface = interfaces[interfaceId];
  if (!iface) throw invalid(`packet refers to unknown interface ${interfaceId}`, base);
  const units = (BigInt(v.getUint32(4, little)) << 32n) | BigInt(v.getUint32(8, little));
  const capLen = v.getUint32(12, little);
  const originalLength = v.getUint32(16, little);
  inside(body.length, 20, pad4(capLen), 'packet data', base);
  const options = readOptions(body.subarray(20 + pad4(capLen)), little, base + 20 + pad4(capLen));
  return {
    type: 'epb',
    interfaceId,
    timestampNs: toNs(units, iface.tsresol),
    data: body.subarray(20, 20 + capLen),
    originalLength,
    comments: options.filter((o) => o.code === OPT_COMMENT).map((o) => utf8.decode(o.value)),
    options,
  };
}

/**
 * Blocks in file order. A Section Header Block sets the byte order and resets the interface list
 * for the blocks after it. Obsolete Packet Blocks are reported as 'epb'.
 */
export function* readPcapng(bytes: Uint8Array): Generator<PcapngBlock> {
  if (bytes.length === 0) throw new DecodeError('pcapng', 'truncated', 'empty file', 0);
  const v = viewOf(bytes);
  let little: boolean | undefined;
  let interfaces: Iface[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 12) {
      throw new DecodeError('pcapng', 'truncated', 'partial block header at end of file', at);
    }
    // The SHB type code reads the same in both byte orders; its magic decides the order.
    if (v.getUint32(at, true) === BLOCK_SHB) {
      const magic = v.getUint32(at + 8, true);
      if (magic === BYTE_ORDER_MAGIC) little = true;
      else if (magic === 0x4d3c2b1a) little = false;
      else throw invalid(`bad byte-order magic 0x${magic.toString(16)}`, at + 8);
    } else if (little === undefined) {
      throw invalid('file does not start with a Section Header Block', at);
    }
    const type = v.getUint32(at, little);
    const length = v.getUint32(at + 4, little);
    if (length < 12 || length % 4 !== 0) throw invalid(`bad block length ${length}`, at + 4);
    if (at + length > bytes.length) {
      throw new DecodeError('pcapng', 'truncated', `block of ${length} bytes overruns file`, at);
    }
    if (v.getUint32(at + length - 4, little) !== length) {
      throw invalid('trailing block length differs from leading one', at + length - 4);
    }
    const body = bytes.subarray(at + 8, at + length - 4);
    const bv = viewOf(body);
    const base = at + 8;
    switch (type) {
      case BLOCK_SHB: {
        inside(body.length, 0, 16, 'section header fields', base);
        const versionMajor = bv.getUint16(4, little);
        if (versionMajor !== 1) {
          throw new DecodeError(
            'pcapng',
            'unsupported',
            `section version ${versionMajor}`,
            base + 4,
          );
        }
        interfaces = [];
        yield {
          type: 'shb',
          byteOrder: little ? 'little' : 'big',
          versionMajor,
          versionMinor: bv.getUint16(6, little),
          options: readOptions(body.subarray(16), little, base + 16),
        };
        break;
      }
      case BLOCK_IDB: {
        inside(body.length, 0, 8, 'interface fields', base);
        const options = readOptions(body.subarray(8), little, base + 8);
        const iface = { snaplen: bv.getUint32(4, little), tsresol: tsresolOf(options, base) };
        interfaces.push(iface);
        yield { type: 'idb', linktype: bv.getUint16(0, little), ...iface, options };
        break;
      }
      case BLOCK_EPB:
      case BLOCK_PB:
        yield packetBlock(body, little, base, interfaces, type === BLOCK_PB);
        break;
      case BLOCK_SPB: {
        inside(body.length, 0, 4, 'simple packet fields', base);
        const iface = interfaces[0];
        if (!iface) throw invalid('simple packet block without interface 0', base);
        const originalLength = bv.getUint32(0, little);
        // Captured length is implied: the original length cut to interface 0's snaplen.
        const capLen = iface.snaplen ? Math.min(originalLength, iface.snaplen) : originalLength;
        inside(body.length, 4, capLen, 'simple packet data', base);
        yield { type: 'spb', data: body.subarray(4, 4 + capLen), originalLength };
        break;
      }
      default:
        yield { type: 'other', blockType: type, length };
    }
    at += length;
  }
}
