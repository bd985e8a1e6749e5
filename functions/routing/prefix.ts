import { ipv4ToUint32, isIPv4 } from '../../protocol/address.js';

/** An IPv4 EID prefix such as 10.1.0.0/16. */
export interface Ipv4Prefix {
  text: string;
  network: number;
  length: number;
}

export class PrefixError extends Error {
  override readonly name = 'PrefixError';
}

export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!match || !isIPv4(match[1]!))
    throw new PrefixError(`"${text}" is not an IPv4 prefix (a.b.c.d/len)`);
  const length = Number(match[2]);
  if (length > 32) throw new PrefixError(`"${text}": prefix length must be 0-32`);
  const network = ipv4ToUint32(match[1]!);
  if ((network & prefixMask(length)) >>> 0 !== network) {
    throw new PrefixError(`"${text}" has host bits set beyond /${length}`);
  }
  return { text, network, length };
}

export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  return (address & prefixMask(prefix.length)) >>> 0 === prefix.network;
}
