import { randomBytes } from 'node:crypto';
import {
  CHUNK_SIZE,
  type CipherSpec,
  type CipherSuite,
  chunkNonce,
  cipherBySuite,
  EvidenceError,
  encodeFrameWord,
  encodeHeaderPrefix,
  FRAME_WORD_LENGTH,
  MAX_CHUNKS,
  SEGMENT_ID_LENGTH,
  TAG_LENGTH,
} from '../../protocol/evidence/format.js';
import { aeadCipher } from './aead.js';
import { type MasterKey, wrapDataKey } from './master-key.js';

export interface SegmentEncryptorOptions {
  /** Default AES-256-GCM, the spec's recommendation. */
  cipher?: CipherSuite;
  /** Authenticated, unencrypted bytes bound to the segment (at most 1024). */
  context?: Uint8Array;
}

/**
 * Encrypts one segment as a stream (format: protocol/evidence/format.ts). `header` first, then
 * whatever push() and finish() return, in order. It holds at most one chunk (64 KiB) of
 * plaintext: the last full chunk waits until more data or finish() says whether it is final.
 */
export class SegmentEncryptor {
  readonly header: Buffer;
  readonly segmentId: Buffer;
  readonly cipher: CipherSpec;
  private readonly dataKey: Buffer;
  private readonly aad: Buffer;
  private readonly pending = Buffer.alloc(CHUNK_SIZE);
  private pendingLength = 0;
  private index = 0;
  private finished = false;
  private plaintext = 0;

  constructor(master: MasterKey, options: SegmentEncryptorOptions = {}) {
    const cipher = cipherBySuite(options.cipher ?? 'AES-256-GCM');
    if (!cipher) throw new RangeError(`unknown cipher suite ${options.cipher}`);
    this.cipher = cipher;
    this.segmentId = randomBytes(SEGMENT_ID_LENGTH);
    this.dataKey = randomBytes(cipher.keyLength);
    const prefix = encodeHeaderPrefix({
      cipher,
      keyId: master.id,
      segmentId: this.segmentId,
      context: options.context ?? new Uint8Array(0),
    });
    const wrapped = wrapDataKey(master, cipher, this.segmentId, this.dataKey, prefix);
    this.header = Buffer.concat([prefix, wrapped]);
    this.aad = Buffer.alloc(this.header.length + FRAME_WORD_LENGTH);
    this.header.copy(this.aad);
  }

  /** Plaintext in; sealed chunks out (possibly none). The input is not kept. */
  push(data: Uint8Array): Buffer[] {
    if (this.finished) throw new Error('segment already finished');
    const out: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (this.pendingLength === CHUNK_SIZE) out.push(...this.seal(this.pending, false));
      // Whole chunks with more input behind them are not final: seal them in place.
      if (this.pendingLength === 0 && data.length - at > CHUNK_SIZE) {
        out.push(...this.seal(data.subarray(at, at + CHUNK_SIZE), false));
        at += CHUNK_SIZE;
        continue;
      }
      const n = Math.min(CHUNK_SIZE - this.pendingLength, data.length - at);
      this.pending.set(data.subarray(at, at + n), this.pendingLength);
      this.pendingLength += n;
      at += n;
    }
    this.plaintext += data.length;
    return out;
  }

  /** The final chunk (empty only if the whole segment is). The data key is wiped. */
  finish(): Buffer[] {
    if (this.finished) throw new Error('segment already finished');
    const out = this.seal(this.pending, true);
    this.finished = true;
    this.dataKey.fill(0);
    this.pending.fill(0);
    return out;
  }

  /** Plaintext bytes pushed so far. */
  get plaintextBytes(): number {
    return this.plaintext;
  }

  /** Ciphertext bytes a segment of `plaintextBytes` takes, header excluded. */
  static payloadLength(plaintextBytes: number): number {
    const chunks = Math.max(1, Math.ceil(plaintextBytes / CHUNK_SIZE));
    return plaintextBytes + chunks * (FRAME_WORD_LENGTH + TAG_LENGTH);
  }

  private seal(source: Uint8Array, final: boolean): Buffer[] {
    if (this.index >= MAX_CHUNKS) {
      throw new EvidenceError('too-large', 'a segment holds at most 2^32 chunks (256 TiB)');
    }
    const length = source === this.pending ? this.pendingLength : source.length;
    const word = encodeFrameWord(length, final);
    this.aad.set(word, this.header.length);
    const c = aeadCipher(this.cipher, this.dataKey, chunkNonce(this.segmentId, this.index, final));
    c.setAAD(this.aad, { plaintextLength: length });
    const ciphertext = c.update(source.subarray(0, length));
    c.final();
    const tag = c.getAuthTag();
    this.index++;
    if (source === this.pending) this.pendingLength = 0;
    return [Buffer.from(word), ciphertext, tag];
  }
}
