/**
 * wirefleet evidence segment format, version 1: the bytes on disk and in S3 of one encrypted
 * capture segment. This module is the layout only (pure, no Node built-ins, so the cloud can read
 * headers); the cryptography lives in agent/evidence/segment-crypto.ts.
 *
 * A segment file is a header followed by one or more chunks. All integers are big-endian.
 *
 * Header
 *   off  len  field
 *   0    8    magic 89 57 46 45 0D 0A 1A 0A ("\x89WFE\r\n\x1a\n": high bit and line ends catch
 *             7-bit and text-mode damage, as PNG's)
 *   8    1    format version = 1 (any other value is refused)
 *   9    1    cipher id: 1 AES-256-GCM, 2 AES-128-GCM, 3 ChaCha20-Poly1305 (others refused)
 *   10   1    log2 of the chunk size = 16 (64 KiB of plaintext per chunk; others refused)
 *   11   1    reserved = 0 (others refused)
 *   12   16   key id = HMAC-SHA-256(master key, "wirefleet-evidence/v1 key id")[0..16]: names the
 *             master key without revealing it, so the wrong key is reported as such
 *   28   16   segment id: 16 random bytes, unique per segment
 *   44   2    context length C (0..1024)
 *   46   C    context: opaque bytes the recorder binds to the segment (the agent's id and sequence,
 *             later); authenticated with the rest of the header
 *   46+C K+16 wrapped data key: the random per-segment data key DK (K = 32 bytes, or 16 for
 *             AES-128-GCM) sealed with the segment's cipher under
 *               KEK = HKDF-SHA-256(ikm = master key, salt = segment id,
 *                                  info = "wirefleet-evidence/v1 wrap" || cipher id, length K),
 *             nonce = 12 zero bytes (the KEK is unique per segment, as age's stanza keys are),
 *             AAD = header bytes 0 .. 46+C. Its tag authenticates the whole header.
 *
 * Chunk i (i = 0, 1, ...; at most 2^32 chunks, so a segment holds at most 256 TiB)
 *   4      frame word: bit 31 = final flag, bits 0..16 = plaintext length L, bits 17..30 = 0
 *   L      ciphertext
 *   16     tag
 * sealed with the segment's cipher under DK, with
 *   nonce = segment id[0..7] || uint32(i) || flag byte (0x01 for the final chunk, else 0x00)
 *   AAD   = every header byte || the chunk's frame word.
 * This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as Tink lays it
 * out: the counter fixes each chunk's position, the flag marks the end. Every chunk but the last
 * holds exactly 64 KiB; the last holds 1..64 KiB, or 0 only when the whole plaintext is empty
 * (which is still one final chunk). The frame word lets a reader find the chunk boundaries in a
 * stream of concatenated segments; it is authenticated twice (length by the tag, flag by the
 * nonce, both by the AAD).
 *
 * What a reader must check, and what each check catches:
 * - the key id equals the key file's (else: the wrong key, which is also how a damaged key id
 *   field reads);
 * - the wrapped key opens (else: the header was altered);
 * - every chunk opens with its own counter and flag (else: a chunk was altered, moved, swapped
 *   with one from another segment (other DK), or its flag or length changed);
 * - a chunk with the final flag arrives before the data ends (else: truncated), and after it
 *   come only further segments (else: trailing data).
 * Dropping, duplicating or reordering WHOLE segments in a concatenation is not caught here:
 * that needs the cloud-signed window manifest (not built yet).
 */

export const SEGMENT_MAGIC = Uint8Array.of(0x89, 0x57, 0x46, 0x45, 0x0d, 0x0a, 0x1a, 0x0a);
export const FORMAT_VERSION = 1;
export const CHUNK_SIZE_LOG2 = 16;
/** Plaintext bytes in every chunk but the last. */
export const CHUNK_SIZE = 1 << CHUNK_SIZE_LOG2;
export const TAG_LENGTH = 16;
export const FRAME_WORD_LENGTH = 4;
export const KEY_ID_LENGTH = 16;
export const SEGMENT_ID_LENGTH = 16;
/** Bytes of the segment id that prefix every chunk nonce. */
export const NONCE_PREFIX_LENGTH = 7;
export const NONCE_LENGTH = 12;
export const MAX_CONTEXT_LENGTH = 1024;
/** Chunk counters are 32 bits. */
export const MAX_CHUNKS = 2 ** 32;
/** Header bytes before the context: enough to know the header's full length. */
export const FIXED_HEADER_LENGTH = 46;
const FINAL_BIT = 0x8000_0000;

export type CipherSuite = 'AES-256-GCM' | 'AES-128-GCM' | 'ChaCha20-Poly1305';

export interface CipherSpec {
  id: number;
  suite: CipherSuite;
  /** Node/OpenSSL name. */
  algorithm: 'aes-256-gcm' | 'aes-128-gcm' | 'chacha20-poly1305';
  /** Data-key (and KEK) length in bytes. */
  keyLength: 16 | 32;
}

export const CIPHERS: readonly CipherSpec[] = [
  { id: 1, suite: 'AES-256-GCM', algorithm: 'aes-256-gcm', keyLength: 32 },
  { id: 2, suite: 'AES-128-GCM', algorithm: 'aes-128-gcm', keyLength: 16 },
  { id: 3, suite: 'ChaCha20-Poly1305', algorithm: 'chacha20-poly1305', keyLength: 32 },
];

export const CIPHER_SUITES = CIPHERS.map((c) => c.suite) as readonly CipherSuite[];

/** The spec's names, case-insensitively (AES-256-GCM, aes-256-gcm, chacha20-poly1305, ...). */
export function cipherBySuite(name: string): CipherSpec | undefined {
  const wanted = name.toLowerCase();
  return CIPHERS.find((c) => c.suite.toLowerCase() === wanted);
}

export function cipherById(id: number): CipherSpec | undefined {
  return CIPHERS.find((c) => c.id === id);
}

export type EvidenceErrorReason =
  | 'not-a-segment'
  | 'unsupported'
  | 'bad-header'
  | 'wrong-key'
  | 'header-authentication'
  | 'bad-frame'
  | 'chunk-authentication'
  | 'truncated'
  | 'trailing-data'
  | 'too-large'
  | 'pcap-join'
  | 'manifest';

/**
 * A segment (or a concatenation of segments) that is refused. `segment` and `chunk` count
 * from 1 for people; `offset` is the byte offset in the input where the problem was found.
 */
export class EvidenceError extends Error {
  override readonly name = 'EvidenceError';
  constructor(
    readonly reason: EvidenceErrorReason,
    message: string,
    readonly where: { segment?: number; chunk?: number; offset?: number } = {},
  ) {
    super(message);
  }
}

export interface SegmentHeader {
  version: number;
  cipher: CipherSpec;
  keyId: Uint8Array;
  segmentId: Uint8Array;
  context: Uint8Array;
  wrappedKey: Uint8Array;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function startsWithMagic(bytes: Uint8Array): boolean {
  if (bytes.length < SEGMENT_MAGIC.length) return false;
  return SEGMENT_MAGIC.every((b, i) => bytes[i] === b);
}

/** Whether `bytes` (shorter than the magic) could still become it: a possible next segment. */
export function isMagicPrefix(bytes: Uint8Array): boolean {
  return bytes.length <= SEGMENT_MAGIC.length && bytes.every((b, i) => SEGMENT_MAGIC[i] === b);
}

/**
 * The full header length, from its first FIXED_HEADER_LENGTH bytes; refuses what version 1
 * does not define before anything else is read.
 */
export function headerLength(fixed: Uint8Array): number {
  if (fixed.length < FIXED_HEADER_LENGTH) {
    throw new EvidenceError('truncated', 'header is incomplete');
  }
  if (!startsWithMagic(fixed)) {
    throw new EvidenceError('not-a-segment', 'not a wirefleet evidence segment (bad magic)');
  }
  const version = fixed[8]!;
  if (version !== FORMAT_VERSION) {
    throw new EvidenceError(
      'unsupported',
      `format version ${version} is not supported (this wirefleet reads version ${FORMAT_VERSION})`,
    );
  }
  const cipher = cipherById(fixed[9]!);
  if (!cipher) throw new EvidenceError('unsupported', `unknown cipher id ${fixed[9]}`);
  if (fixed[10] !== CHUNK_SIZE_LOG2) {
    throw new EvidenceError(
      'unsupported',
      `chunk size 2^${fixed[10]} is not supported (version 1 uses 2^${CHUNK_SIZE_LOG2})`,
    );
  }
  if (fixed[11] !== 0) throw new EvidenceError('bad-header', 'reserved header byte is not zero');
  const contextLength = view(fixed).getUint16(44);
  if (contextLength > MAX_CONTEXT_LENGTH) {
    throw new EvidenceError(
      'bad-header',
      `context of ${contextLength} bytes exceeds ${MAX_CONTEXT_LENGTH}`,
    );
  }
  return FIXED_HEADER_LENGTH + contextLength + cipher.keyLength + TAG_LENGTH;
}

/** Decodes a whole header (exactly headerLength() bytes). Authenticity is checked by unwrapping. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader {
  const length = headerLength(bytes);
  if (bytes.length !== length) {
    throw new EvidenceError('truncated', `header needs ${length} bytes, have ${bytes.length}`);
  }
  const contextLength = view(bytes).getUint16(44);
  const wrapAt = FIXED_HEADER_LENGTH + contextLength;
  return {
    version: bytes[8]!,
    cipher: cipherById(bytes[9]!)!,
    keyId: bytes.slice(12, 28),
    segmentId: bytes.slice(28, 44),
    context: bytes.slice(FIXED_HEADER_LENGTH, wrapAt),
    wrappedKey: bytes.slice(wrapAt),
  };
}

/** The header bytes before the wrapped key: the AAD that the wrapped key's tag authenticates. */
export function encodeHeaderPrefix(h: Omit<SegmentHeader, 'wrappedKey' | 'version'>): Uint8Array {
  if (h.keyId.length !== KEY_ID_LENGTH) throw new RangeError('key id must be 16 bytes');
  if (h.segmentId.length !== SEGMENT_ID_LENGTH) throw new RangeError('segment id must be 16 bytes');
  if (h.context.length > MAX_CONTEXT_LENGTH) {
    throw new RangeError(`context must be at most ${MAX_CONTEXT_LENGTH} bytes`);
  }
  const out = new Uint8Array(FIXED_HEADER_LENGTH + h.context.length);
  out.set(SEGMENT_MAGIC, 0);
  out[8] = FORMAT_VERSION;
  out[9] = h.cipher.id;
  out[10] = CHUNK_SIZE_LOG2;
  out[11] = 0;
  out.set(h.keyId, 12);
  out.set(h.segmentId, 28);
  view(out).setUint16(44, h.context.length);
  out.set(h.context, FIXED_HEADER_LENGTH);
  return out;
}

export function encodeFrameWord(plaintextLength: number, final: boolean): Uint8Array {
  if (!Number.isInteger(plaintextLength) || plaintextLength < 0 || plaintextLength > CHUNK_SIZE) {
    throw new RangeError(`chunk plaintext length must be 0..${CHUNK_SIZE}`);
  }
  const out = new Uint8Array(FRAME_WORD_LENGTH);
  view(out).setUint32(0, (final ? FINAL_BIT : 0) + plaintextLength);
  return out;
}

/** Reads a frame word; refuses lengths no writer produces (`index` counts from 0). */
export function decodeFrameWord(
  word: Uint8Array,
  index: number,
): { final: boolean; plaintextLength: number } {
  const value = view(word).getUint32(0);
  const final = value >= FINAL_BIT;
  const plaintextLength = value - (final ? FINAL_BIT : 0);
  if (plaintextLength > CHUNK_SIZE) {
    throw new EvidenceError('bad-frame', `invalid length word 0x${value.toString(16)}`);
  }
  if (!final && plaintextLength !== CHUNK_SIZE) {
    throw new EvidenceError(
      'bad-frame',
      `non-final chunk announces ${plaintextLength} bytes (every chunk but the last holds ${CHUNK_SIZE})`,
    );
  }
  if (final && plaintextLength === 0 && index > 0) {
    throw new EvidenceError('bad-frame', 'empty final chunk after data');
  }
  return { final, plaintextLength };
}

/** STREAM nonce: segment id[0..7] || uint32 chunk index || final flag. */
export function chunkNonce(segmentId: Uint8Array, index: number, final: boolean): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNKS) {
    throw new RangeError('chunk index out of range');
  }
  const nonce = new Uint8Array(NONCE_LENGTH);
  nonce.set(segmentId.subarray(0, NONCE_PREFIX_LENGTH), 0);
  view(nonce).setUint32(NONCE_PREFIX_LENGTH, index);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
