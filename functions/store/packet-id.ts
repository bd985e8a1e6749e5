import { randomInt } from 'node:crypto';

/**
 * Packet IDs sort by creation time: 12 hex digits of epoch milliseconds and a
 * 4-hex-digit sequence, so "newest first" is a reverse range query.
 */
export const PACKET_ID_PATTERN = /^[0-9a-f]{16}$/;

export function createPacketIdGenerator(): (timestampMs: number) => string {
  let lastMs = -1;
  let sequence = 0;
  return (timestampMs) => {
    const ms = Math.max(Math.floor(timestampMs), lastMs);
    // A random start keeps IDs from two Lambdas in the same millisecond apart.
    sequence = ms === lastMs ? sequence + 1 : randomInt(0, 0x8000);
    lastMs = ms;
    if (sequence > 0xffff) {
      lastMs = ms + 1;
      sequence = 0;
    }
    return `${lastMs.toString(16).padStart(12, '0')}${sequence.toString(16).padStart(4, '0')}`;
  };
}

/** Smallest and largest IDs that a time range (epoch ms, inclusive) can hold. */
export function packetIdRange(sinceMs?: number, untilMs?: number): { low: string; high: string } {
  const at = (ms: number) =>
    Math.min(Math.max(Math.floor(ms), 0), 0xffffffffffff)
      .toString(16)
      .padStart(12, '0');
  return {
    low: `${at(sinceMs ?? 0)}0000`,
    high: `${at(untilMs ?? 0xffffffffffff)}ffff`,
  };
}
