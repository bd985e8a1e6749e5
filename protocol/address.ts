import { need } from './bytes.js';
import { EncodeError } from './errors.js';

// Textual address forms <-> wire bytes. Parsers are strict so that a typo never silently becomes
// a different address on the wire.

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIPv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) {
    throw new EncodeError('ipv4', `not a dotted-quad IPv4 address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts, Number);
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  need(bytes, offset, 4, 'ipv4', 'address');
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function isIPv4(text: string): boolean {
  return tryParse(parseIPv4, text);
}

const GROUP = /^[0-9a-f]{1,4}$/i;

export function parseIPv6(text: string): Uint8Array {
  const fail = () => new EncodeError('ipv6', `not an IPv6 address: ${JSON.stringify(text)}`);
  let body = text;
  // An embedded dotted quad (e.g. ::ffff:192.0.2.1) stands for the last two groups.
  const lastColon = body.lastIndexOf(':');
  if (lastColon >= 0 && body.includes('.', lastColon)) {
    const tail = body.slice(lastColon + 1);
    if (!isIPv4(tail)) throw fail();
    const v4 = parseIPv4(tail);
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    body = `${body.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) throw fail();
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] ?? '').split(':') : [];
  const groups = halves.length === 2 ? head.length + tail.length : head.length;
  if (!head.concat(tail).every((g) => GROUP.test(g))) throw fail();
  if (halves.length === 2 ? groups > 7 : groups !== 8) throw fail();
  const out = new Uint8Array(16);
  const put = (g: string, index: number) => {
    const v = Number.parseInt(g, 16);
    out[index * 2] = v >> 8;
    out[index * 2 + 1] = v & 0xff;
  };
  for (const [i, g] of head.entries()) put(g, i);
  for (const [i, g] of tail.entries()) put(g, 8 - tail.length + i);
  return out;
}

/** RFC 5952 canonical text: lower case, no leading zeros, longest (first on tie) zero run as "::". */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  need(bytes, offset, 16, 'ipv6', 'address');
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[offset + i * 2]! << 8) | bytes[offset + i * 2 + 1]!);
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (g.slice(0, 5).every((v) => v === 0) && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never shortened (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = g.map((v) => v.toString(16));
  if (bestStart < 0) return hexes.join(':');
  const left = hexes.slice(0, bestStart).join(':');
  const right = hexes.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

export function isIPv6(text: string): boolean {
  return tryParse(parseIPv6, text);
}

const MAC = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;

export function parseMac(text: string): Uint8Array {
  if (!MAC.test(text)) throw new EncodeError('mac', `not a MAC address: ${JSON.stringify(text)}`);
  return Uint8Array.from(text.split(/[:-]/), (h) => Number.parseInt(h, 16));
}

export function formatMac(bytes: Uint8Array, offset = 0): string {
  need(bytes, offset, 6, 'ethernet', 'MAC address');
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(bytes[offset + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function ipv4ToUint32(text: string): number {
  const b = parseIPv4(text);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function uint32ToIPv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new EncodeError('ipv4', `not a 32-bit unsigned integer: ${n}`);
  }
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

function tryParse(parse: (text: string) => Uint8Array, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}
