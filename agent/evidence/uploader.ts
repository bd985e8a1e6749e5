import { createHash } from 'node:crypto';
import {
  type SegmentDownlink,
  type SegmentUplink,
  segmentDownlinkSchema,
} from '../../protocol/evidence/upload-messages.js';
import { nextDelay } from '../backoff.js';
import { type AgentLogger, silentAgentLogger } from '../log.js';
import type { EvidenceEvent } from './recorder.js';
import type { SegmentSpool, SpooledSegment } from './segment-spool.js';

/**
 * Uploads spooled evidence segments, oldest first, one at a time, by the contract in
 * protocol/evidence/upload-messages.ts: upload_request on `segments`; the cloud answers on
 * `uploads` with upload_url (PUT the bytes with exactly its headers, then upload_complete) or
 * upload_confirmed (it already has the segment: an earlier run uploaded it before a crash).
 * A segment leaves the spool only on upload_confirmed. upload_refused with retry, a missing
 * answer, a lost connection or a failed PUT: that segment waits (jittered backoff) and the
 * next one is tried; upload_refused without retry: the segment is moved to refused/ and an
 * event says so. Nothing here is kept across a restart but the spool itself, so a kill -9 at
 * any point means asking again for what is still spooled, and the cloud's upload_confirmed for
 * segments it already has keeps each stored once.
 */

/** How the uploader talks to the cloud (the agent's MQTT uplink; a test double in unit tests). */
export interface SegmentTransport {
  readonly connected: boolean;
  /** QoS 1 on the agent's `segments` topic; resolves on PUBACK, rejects when not connected. */
  publish(message: SegmentUplink): Promise<void>;
  /** Raw payloads from the agent's `uploads` topic. */
  onMessage(handler: (payload: Buffer) => void): void;
  /** Called after each (re)connection. */
  onConnected(handler: () => void): void;
  onDisconnected(handler: () => void): void;
}

export interface UploaderOptions {
  spool: SegmentSpool;
  transport: SegmentTransport;
  logger?: AgentLogger;
  onEvent?: EvidenceEvent;
  /** How long to wait for the cloud's answer to a request or a completion (default 30 s). */
  answerTimeoutMs?: number;
  /** How long a PUT may take (default 10 min: a 64 MiB segment over a slow uplink). */
  putTimeoutMs?: number;
  /** Backoff between attempts at one segment (defaults 1 s .. 5 min). */
  retryMinMs?: number;
  retryMaxMs?: number;
  fetch?: typeof fetch;
  random?: () => number;
}

export interface UploaderStats {
  /** Segments the cloud confirmed during this run, and their bytes. */
  confirmed: number;
  confirmed_bytes: number;
  /** PUTs that returned 2xx. */
  puts: number;
  /** Attempts that ended without a confirmation (each is retried later). */
  failed_attempts: number;
  /** Segments refused for good during this run (moved to refused/). */
  refused: number;
  uploading: string | null;
  last_error: string | null;
}

/** An attempt that did not end in a confirmation; the segment is tried again later. */
export class SegmentUploadError extends Error {
  override readonly name = 'SegmentUploadError';
}

interface Waiter {
  resolve: (answer: SegmentDownlink) => void;
  reject: (error: Error) => void;
}

export class SegmentUploader {
  readonly #o: Required<Omit<UploaderOptions, 'onEvent' | 'random' | 'logger'>> &
    Pick<UploaderOptions, 'onEvent' | 'random'>;
  readonly #logger: AgentLogger;
  readonly #retry = new Map<string, { attempt: number; notBefore: number }>();
  readonly #waiters = new Map<string, Waiter>();
  #wake: (() => void) | undefined;
  #wakeTimer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #abort: AbortController | undefined;
  readonly #stats: UploaderStats = {
    confirmed: 0,
    confirmed_bytes: 0,
    puts: 0,
    failed_attempts: 0,
    refused: 0,
    uploading: null,
    last_error: null,
  };

  constructor(options: UploaderOptions) {
    this.#o = {
      answerTimeoutMs: 30_000,
      putTimeoutMs: 600_000,
      retryMinMs: 1000,
      retryMaxMs: 300_000,
      fetch: globalThis.fetch,
      ...options,
    };
    this.#logger = options.logger ?? silentAgentLogger;
    options.transport.onMessage((payload) => this.#onMessage(payload));
    options.transport.onConnected(() => this.notify());
    options.transport.onDisconnected(() => {
      for (const waiter of this.#waiters.values()) {
        waiter.reject(new SegmentUploadError('connection lost before the answer'));
      }
    });
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** New segments in the spool, or the link came back: look again. */
  notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    clearTimeout(this.#wakeTimer);
    wake?.();
  }

  /** Ends the loop; an upload in progress is abandoned (the segment stays spooled). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    for (const waiter of this.#waiters.values()) waiter.reject(new SegmentUploadError('stopping'));
    this.notify();
    await this.#loop;
  }

  stats(): UploaderStats {
    return { ...this.#stats };
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const now = Date.now();
      const next = this.#o.transport.connected ? this.#pick(now) : undefined;
      if (!next) {
        await this.#sleep(this.#o.transport.connected ? this.#nextDue(now) : undefined);
        continue;
      }
      const id = next.meta.segment_id;
      this.#stats.uploading = id;
      try {
        await this.#upload(next);
        this.#retry.delete(id);
      } catch (error) {
        if (this.#stopped) break;
        this.#failedAttempt(next, error as Error);
      } finally {
        this.#stats.uploading = null;
      }
    }
  }

  /** The oldest spooled segment that is not waiting out a backoff. */
  #pick(now: number): SpooledSegment | undefined {
    return this.#o.spool
      .list()
      .find((s) => (this.#retry.get(s.meta.segment_id)?.notBefore ?? 0) <= now);
  }

  /** Milliseconds until the earliest backoff ends (undefined: nothing to wait for). */
  #nextDue(now: number): number | undefined {
    let due: number | undefined;
    for (const s of this.#o.spool.list()) {
      const at = this.#retry.get(s.meta.segment_id)?.notBefore ?? now;
      due = due === undefined ? at : Math.min(due, at);
    }
    return due === undefined ? undefined : Math.max(0, due - now);
  }

  #sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      if (ms !== undefined) this.#wakeTimer = setTimeout(() => this.notify(), ms);
    });
  }

  async #upload(segment: SpooledSegment): Promise<void> {
    const { meta } = segment;
    const id = meta.segment_id;
    const first = await this.#ask(id, { type: 'upload_request', ...meta });
    if (await this.#settled(segment, first)) return;
    if (first.type !== 'upload_url') throw new SegmentUploadError(`unexpected ${first.type}`);
    const bytes = await segment.read();
    // The spool's copy must still be what was recorded; a damaged file is not evidence.
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== meta.sha256 || bytes.length !== meta.bytes) {
      await this.#refuse(
        segment,
        'spool_corrupt',
        'the spooled file no longer matches its SHA-256',
      );
      return;
    }
    await this.#put(first.url, first.headers, bytes);
    const second = await this.#ask(id, { type: 'upload_complete', segment_id: id });
    if (await this.#settled(segment, second)) return;
    throw new SegmentUploadError(`the cloud answered upload_complete with ${second.type}`);
  }

  /** Confirmed or refused: acts on it and says true; anything else is for the caller. */
  async #settled(segment: SpooledSegment, answer: SegmentDownlink): Promise<boolean> {
    if (answer.type === 'upload_confirmed') {
      if (await this.#o.spool.confirm(segment.meta.segment_id)) {
        this.#stats.confirmed += 1;
        this.#stats.confirmed_bytes += segment.meta.bytes;
        this.#logger.info('evidence segment uploaded', {
          seq: segment.meta.seq,
          segment_id: segment.meta.segment_id,
          bytes: segment.meta.bytes,
        });
      }
      return true;
    }
    if (answer.type === 'upload_refused') {
      if (answer.retry) {
        throw new SegmentUploadError(`refused for now (${answer.code}): ${answer.message}`);
      }
      await this.#refuse(segment, answer.code, answer.message);
      return true;
    }
    return false;
  }

  async #refuse(segment: SpooledSegment, code: string, message: string): Promise<void> {
    const { seq, segment_id } = segment.meta;
    if (!(await this.#o.spool.refuse(segment_id, `${code}: ${message}`))) return;
    this.#stats.refused += 1;
    try {
      this.#o.onEvent?.(
        'segment_refused',
        'warning',
        `evidence segment ${seq} refused for good (${code}): ${message}; kept in the spool's refused/`,
        { seq, segment_id, code, reason: message },
      );
    } catch (error) {
      this.#logger.error('evidence event failed', { error: String(error) });
    }
  }

  /** Publishes a message and waits for the cloud's answer about the same segment. */
  async #ask(segmentId: string, message: SegmentUplink): Promise<SegmentDownlink> {
    if (this.#waiters.has(segmentId)) throw new SegmentUploadError('already waiting');
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<SegmentDownlink>((resolve, reject) => {
      this.#waiters.set(segmentId, { resolve, reject });
      timer = setTimeout(
        () => reject(new SegmentUploadError(`no answer to ${message.type} in time`)),
        this.#o.answerTimeoutMs,
      );
    });
    answer.catch(() => {});
    try {
      await this.#o.transport.publish(message);
      return await answer;
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(segmentId);
    }
  }

  async #put(url: string, headers: Record<string, string>, body: Buffer): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const timer = setTimeout(() => abort.abort(), this.#o.putTimeoutMs);
    try {
      const response = await this.#o.fetch(url, {
        method: 'PUT',
        headers,
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        signal: abort.signal,
      });
      const text = await response.text().catch(() => '');
      if (!response.ok) {
        throw new SegmentUploadError(
          `PUT answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
        );
      }
      this.#stats.puts += 1;
    } catch (error) {
      if (error instanceof SegmentUploadError) throw error;
      throw new SegmentUploadError(`PUT failed: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.#abort = undefined;
    }
  }

  #failedAttempt(segment: SpooledSegment, error: Error): void {
    const id = segment.meta.segment_id;
    const previous = this.#retry.get(id)?.attempt ?? 0;
    const delay = nextDelay(previous, {
      minMs: this.#o.retryMinMs,
      maxMs: this.#o.retryMaxMs,
      ...(this.#o.random ? { random: this.#o.random } : {}),
    });
    this.#retry.set(id, { attempt: previous + 1, notBefore: Date.now() + delay });
    this.#stats.failed_attempts += 1;
    this.#stats.last_error = error.message;
    this.#logger.warn('evidence upload attempt failed; retrying later', {
      seq: segment.meta.seq,
      segment_id: id,
      error: error.message,
      retry_in_ms: delay,
      attempt: previous + 1,
    });
  }

  #onMessage(payload: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      this.#logger.warn('uploads: message is not JSON; ignored');
      return;
    }
    const parsed = segmentDownlinkSchema.safeParse(value);
    if (!parsed.success) {
      this.#logger.warn('uploads: message refused', { error: parsed.error.issues[0]?.message });
      return;
    }
    const answer = parsed.data;
    const waiter = this.#waiters.get(answer.segment_id);
    if (waiter) {
      this.#waiters.delete(answer.segment_id);
      waiter.resolve(answer);
      return;
    }
    // An answer to an attempt given up on (timeout, reconnect): a confirmation still counts.
    if (answer.type === 'upload_confirmed') {
      const segment = this.#o.spool.get(answer.segment_id);
      if (segment) {
        void this.#settled(segment, answer).catch((error: Error) =>
          this.#logger.error('evidence spool: confirm failed', { error: error.message }),
        );
      }
      return;
    }
    this.#logger.debug('uploads: answer for no pending attempt; ignored', {
      type: answer.type,
      segment_id: answer.segment_id,
    });
  }
}

/** What the uploader needs of the agent's MQTT uplink (agent/uplink.ts). */
export interface SegmentUplinkPort {
  readonly connected: boolean;
  publishSegmentMessage(payload: string): Promise<void>;
  onUploads(handler: (payload: Buffer) => void): void;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
}

export function uplinkSegmentTransport(uplink: SegmentUplinkPort): SegmentTransport {
  return {
    get connected() {
      return uplink.connected;
    },
    publish: (message) => uplink.publishSegmentMessage(JSON.stringify(message)),
    onMessage: (handler) => uplink.onUploads(handler),
    onConnected: (handler) => uplink.on('connected', handler),
    onDisconnected: (handler) => uplink.on('disconnected', handler),
  };
}
