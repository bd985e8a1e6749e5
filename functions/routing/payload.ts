/**
 * The inner UDP payload: the query and the routing metadata as JSON, with the
 * query truncated (on a character boundary) so the whole Ethernet frame stays
 * within a 1500-byte IP MTU.
 */
export const IP_MTU = 1500;
/** Outer IPv4 (20) + UDP (8) + LISP (8) + inner IPv4 (20) + inner UDP (8). */
export const ENCAPSULATION_OVERHEAD = 20 + 8 + 8 + 20 + 8;
export const MAX_PAYLOAD_BYTES = IP_MTU - ENCAPSULATION_OVERHEAD;

const encoder = new TextEncoder();

export interface PayloadResult {
  bytes: Uint8Array;
  truncated: boolean;
  /** Characters of the query that made it into the packet. */
  queryChars: number;
}

export function buildPayload(
  query: string,
  metadata: Record<string, unknown>,
  limit = MAX_PAYLOAD_BYTES,
): PayloadResult {
  const chars = Array.from(query);
  const encode = (n: number, truncated: boolean) =>
    encoder.encode(
      JSON.stringify({
        query: chars.slice(0, n).join(''),
        ...(truncated ? { query_truncated: true, query_chars: chars.length } : {}),
        routing: metadata,
      }),
    );
  const whole = encode(chars.length, false);
  if (whole.length <= limit) return { bytes: whole, truncated: false, queryChars: chars.length };
  // Binary search for the longest prefix of the query that still fits.
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encode(mid, true).length <= limit) lo = mid;
    else hi = mid - 1;
  }
  const bytes = encode(lo, true);
  if (bytes.length > limit)
    throw new RangeError('routing metadata alone exceeds the payload limit');
  return { bytes, truncated: true, queryChars: lo };
}
