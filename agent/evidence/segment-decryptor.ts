import {
  chunkNonce,
  decodeFrameWord,
  decodeSegmentHeader,
  EvidenceError,
  FIXED_HEADER_LENGTH,
  FRAME_WORD_LENGTH,
  headerLength,
  isMagicPrefix,
  SEGMENT_MAGIC,
  type SegmentHeader,
  startsWithMagic,
  TAG_LENGTH,
  toHex,
} from '../../protocol/evidence/format.js';
import { aeadDecipher } from './aead.js';
import { ByteQueue } from './byte-queue.js';
import { type MasterKey, unwrapDataKey } from './master-key.js';

export type DecryptEvent =
  /** A segment's header authenticated; `index` counts from 1. */
  | { type: 'segment'; index: number; header: SegmentHeader; offset: number }
  /** One chunk's plaintext, released only after its tag verified. */
  | { type: 'plaintext'; segment: number; bytes: Buffer }
  /** The segment's final chunk verified: the segment is complete. */
  | { type: 'segment-end'; index: number; chunks: number; plaintextBytes: number };

interface OpenSegment {
  index: number;
  header: SegmentHeader;
  dataKey: Buffer;
  aad: Buffer;
  chunk: number;
  plaintextBytes: number;
  /** Set while a chunk's frame word has been read and its body is awaited. */
  frame?: { final: boolean; plaintextLength: number; word: Uint8Array };
}

/**
 * Decrypts a stream of one or more concatenated segments (format: protocol/evidence/format.ts),
 * refusing at the first thing that does not verify. Plaintext comes out one chunk at a time and
 * only after that chunk's tag verified (Node's decipher hands out plaintext before final()
 * checks the tag, so each chunk is held until then). A caller that must not keep a prefix of a
 * stream that later fails (the CLI) still has to hold or discard what came before: a chunk that
 * verified says nothing about whether the stream will end properly. Memory: one chunk plus
 * whatever was pushed and not yet parsed.
 */
export class SegmentDecryptor {
  private readonly queue = new ByteQueue();
  private offset = 0;
  private segments = 0;
  private open?: OpenSegment;
  private closed = false;

  constructor(private readonly master: MasterKey) {}

  /** Bytes pushed but not yet parsed (at most one chunk plus one pushed piece). */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Input in (the buffer is kept until parsed: do not reuse it); events out. */
  push(data: Uint8Array): DecryptEvent[] {
    if (this.closed) throw new Error('decryptor is closed: it refused its input or ended');
    this.queue.push(data);
    const events: DecryptEvent[] = [];
    try {
      while (this.step(events)) {}
    } catch (error) {
      this.close();
      throw error;
    }
    return events;
  }

  /** End of input: refuses a stream that stops anywhere but right after a final chunk. */
  end(): void {
    if (this.closed) throw new Error('decryptor is closed: it refused its input or ended');
    this.close();
    const seg = this.open;
    if (seg) {
      const n = seg.chunk + 1;
      if (seg.frame) {
        throw this.error(
          'truncated',
          `segment ${seg.index}: truncated inside chunk ${n} (input ends ${this.queue.length} of ${seg.frame.plaintextLength + TAG_LENGTH} bytes into it)`,
          { segment: seg.index, chunk: n },
        );
      }
      throw this.error(
        'truncated',
        this.queue.length === 0
          ? `segment ${seg.index}: truncated: no final chunk (input ends after chunk ${seg.chunk})`
          : `segment ${seg.index}: truncated inside the length word of chunk ${n}`,
        { segment: seg.index, chunk: n },
      );
    }
    if (this.segments === 0) {
      throw this.queue.length === 0
        ? this.error('not-a-segment', 'input is empty: not an evidence segment', { segment: 1 })
        : this.error('truncated', 'segment 1: truncated header: input ends before it is complete', {
            segment: 1,
          });
    }
    if (this.queue.length > 0) {
      const rest = this.queue.peek(Math.min(this.queue.length, SEGMENT_MAGIC.length));
      if (startsWithMagic(rest)) {
        throw this.error(
          'truncated',
          `segment ${this.segments + 1}: truncated header: input ends before it is complete`,
          { segment: this.segments + 1 },
        );
      }
      throw this.trailing();
    }
  }

  /** Parses one unit (header, frame word or chunk) if enough input is there. */
  private step(events: DecryptEvent[]): boolean {
    const seg = this.open;
    if (!seg) return this.readHeader(events);
    if (!seg.frame) {
      if (this.queue.length < FRAME_WORD_LENGTH) return false;
      const word = this.queue.peek(FRAME_WORD_LENGTH);
      try {
        seg.frame = { ...decodeFrameWord(word, seg.chunk), word: Uint8Array.from(word) };
      } catch (error) {
        throw this.locate(error, seg.index, seg.chunk + 1);
      }
      this.consume(FRAME_WORD_LENGTH);
      return true;
    }
    const { final, plaintextLength, word } = seg.frame;
    if (this.queue.length < plaintextLength + TAG_LENGTH) return false;
    const body = this.queue.peek(plaintextLength + TAG_LENGTH);
    const plaintext = this.openChunk(seg, body, final, word);
    this.consume(plaintextLength + TAG_LENGTH);
    seg.frame = undefined;
    seg.chunk++;
    seg.plaintextBytes += plaintext.length;
    if (plaintext.length > 0)
      events.push({ type: 'plaintext', segment: seg.index, bytes: plaintext });
    if (final) {
      events.push({
        type: 'segment-end',
        index: seg.index,
        chunks: seg.chunk,
        plaintextBytes: seg.plaintextBytes,
      });
      seg.dataKey.fill(0);
      this.open = undefined;
    }
    return true;
  }

  private readHeader(events: DecryptEvent[]): boolean {
    const index = this.segments + 1;
    const available = this.queue.length;
    if (available === 0) return false;
    // What follows a complete segment must be another segment; anything else is trailing data.
    const lead = this.queue.peek(Math.min(available, SEGMENT_MAGIC.length));
    if (!isMagicPrefix(lead)) {
      if (index > 1) throw this.trailing();
      throw this.error('not-a-segment', 'not a wirefleet evidence segment (bad magic)', {
        segment: 1,
      });
    }
    if (available < FIXED_HEADER_LENGTH) return false;
    let length: number;
    try {
      length = headerLength(this.queue.peek(FIXED_HEADER_LENGTH));
    } catch (error) {
      throw this.locate(error, index);
    }
    if (available < length) return false;
    const bytes = Buffer.from(this.queue.peek(length));
    const header = decodeSegmentHeader(bytes);
    if (!header.keyId.every((b, i) => b === this.master.id[i])) {
      throw this.error(
        'wrong-key',
        `wrong key: segment ${index} was encrypted under key id ${toHex(header.keyId)}, the key file's key id is ${toHex(this.master.id)}`,
        { segment: index },
      );
    }
    const prefix = bytes.subarray(0, length - header.wrappedKey.length);
    const dataKey = unwrapDataKey(
      this.master,
      header.cipher,
      header.segmentId,
      header.wrappedKey,
      prefix,
    );
    if (!dataKey) {
      throw this.error(
        'header-authentication',
        `segment ${index}: header failed authentication (altered or corrupted)`,
        { segment: index },
      );
    }
    const aad = Buffer.alloc(length + FRAME_WORD_LENGTH);
    bytes.copy(aad);
    const at = this.offset;
    this.consume(length);
    this.segments = index;
    this.open = { index, header, dataKey, aad, chunk: 0, plaintextBytes: 0 };
    events.push({ type: 'segment', index, header, offset: at });
    return true;
  }

  private openChunk(seg: OpenSegment, body: Uint8Array, final: boolean, word: Uint8Array): Buffer {
    const length = body.length - TAG_LENGTH;
    seg.aad.set(word, seg.aad.length - FRAME_WORD_LENGTH);
    const d = aeadDecipher(
      seg.header.cipher,
      seg.dataKey,
      chunkNonce(seg.header.segmentId, seg.chunk, final),
    );
    d.setAAD(seg.aad, { plaintextLength: length });
    d.setAuthTag(body.subarray(length));
    // Unverified until final() returns: never handed out before that, wiped if it fails.
    const plaintext = d.update(body.subarray(0, length));
    try {
      d.final();
    } catch {
      plaintext.fill(0);
      const n = seg.chunk + 1;
      throw this.error(
        'chunk-authentication',
        `segment ${seg.index}: chunk ${n} failed authentication (altered, corrupted, moved, or from another segment)`,
        { segment: seg.index, chunk: n },
      );
    }
    return plaintext;
  }

  private consume(n: number): void {
    this.queue.take(n);
    this.offset += n;
  }

  private trailing(): EvidenceError {
    return this.error(
      'trailing-data',
      `trailing data after segment ${this.segments} (at byte ${this.offset}): not another segment`,
      { segment: this.segments },
    );
  }

  private error(
    reason: EvidenceError['reason'],
    message: string,
    where: { segment?: number; chunk?: number },
  ): EvidenceError {
    return new EvidenceError(reason, message, { ...where, offset: this.offset });
  }

  /** A format error from the codec, placed in its segment and, for a length word, its chunk. */
  private locate(error: unknown, segment: number, chunk?: number): unknown {
    if (!(error instanceof EvidenceError)) return error;
    const unit = chunk === undefined ? 'header' : `chunk ${chunk}`;
    return this.error(error.reason, `segment ${segment}: ${unit}: ${error.message}`, {
      segment,
      ...(chunk === undefined ? {} : { chunk }),
    });
  }

  private close(): void {
    this.closed = true;
    this.open?.dataKey.fill(0);
  }
}
