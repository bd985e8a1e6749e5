import { isIP } from 'node:net';

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** "HOST:PORT" or "[IPv6]:PORT"; undefined when malformed. Port 0 asks for any free port. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  if (match[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4 && !HOSTNAME.test(host)) {
    return undefined;
  }
  return { host, port };
}

/** "a.b.c.d/len" with no host bits set; a message saying what is wrong, or undefined. */
export function ipv4PrefixProblem(value: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return `"${value}" is not an IPv4 prefix like 10.1.0.0/16`;
  const octets = match.slice(1, 5).map(Number);
  const len = Number(match[5]);
  if (octets.some((o) => o > 255) || len > 32) return `"${value}" is not a valid IPv4 prefix`;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - len);
  const network = address - (address % size);
  if (network !== address) {
    const fixed = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    return `"${value}" has host bits set; did you mean ${fixed}/${len}?`;
  }
  return undefined;
}
