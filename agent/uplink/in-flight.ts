interface Flight {
  sentAt: number;
  /** Handed to MQTT.js (false while its payload is being read). */
  sent: boolean;
  bytes: number;
  /** Its ack timeout: the base plus the time the bytes queued up to and including it need. */
  timeoutMs: number;
}

/** How long a PUBACK may take: a base plus time for the bytes ahead of it on the link. */
export interface AckTimeout {
  baseMs: number;
  /** The slowest link to allow for. */
  bytesPerSec: number;
}

/**
 * Spool entries out for a PUBACK, plus the poison-message bookkeeping: after
 * a connection dies with publishes in flight the ledger turns cautious (one
 * entry at a time) so the next failure can be pinned on exactly one entry,
 * and counts strikes against it. Logging, events and the spool stay with the
 * uplink.
 */
export class InFlightLedger {
  readonly #flights = new Map<number, Flight>();
  /** Failures of an entry while it was the only one in flight. */
  readonly #strikes = new Map<number, number>();
  #cautious = false;

  constructor(
    private readonly rejectAfter: number,
    private readonly ackTimeout: AckTimeout,
  ) {}

  get size(): number {
    return this.#flights.size;
  }

  get cautious(): boolean {
    return this.#cautious;
  }

  has(seq: number): boolean {
    return this.#flights.has(seq);
  }

  /** How many may be unacknowledged at once: one while cautious. */
  window(maxInFlight: number): number {
    return this.#cautious ? 1 : maxInFlight;
  }

  /** Reserves seq while its payload is read, so no other fill picks it. */
  reserve(seq: number): void {
    this.#flights.set(seq, { sentAt: Date.now(), sent: false, bytes: 0, timeoutMs: 0 });
  }

  /**
   * The payload went to MQTT.js; the ack timeout starts now. It reaches the
   * wire only after everything handed over before it, so its timeout grows
   * with the bytes in flight: a slow link must not look like a dead one.
   */
  markSent(seq: number, bytes: number): void {
    const flight = this.#flights.get(seq);
    if (!flight) return;
    flight.sent = true;
    flight.sentAt = Date.now();
    flight.bytes = bytes;
    const { baseMs, bytesPerSec } = this.ackTimeout;
    flight.timeoutMs = baseMs + Math.ceil((this.bytes / bytesPerSec) * 1000);
  }

  /** Payload bytes handed to MQTT.js and not yet acknowledged. */
  get bytes(): number {
    let sum = 0;
    for (const flight of this.#flights.values()) if (flight.sent) sum += flight.bytes;
    return sum;
  }

  release(seq: number): void {
    this.#flights.delete(seq);
  }

  /** A PUBACK: the link works, so caution and the entry's strikes end. */
  acked(seq: number): void {
    this.#flights.delete(seq);
    this.#cautious = false;
    this.#strikes.delete(seq);
  }

  /** The broker refused seq by name (an MQTT 5 reason code). */
  refused(seq: number): void {
    this.#flights.delete(seq);
    this.#cautious = true;
  }

  /**
   * The connection closed: everything in flight is forgotten (the spool still
   * has it). Returns the entry to strike, if it was alone, sent and cautious,
   * and the close is not already explained (a refusal by reason code, or our
   * own recycle after an ack timeout, which says nothing about the entry).
   */
  connectionLost(explained: boolean): number | undefined {
    let culprit: number | undefined;
    if (this.#flights.size > 0) {
      const [[seq, flight] = []] = this.#flights;
      if (this.#cautious && this.#flights.size === 1 && flight?.sent && !explained) {
        culprit = seq;
      }
      this.#cautious = true;
    }
    this.#flights.clear();
    return culprit;
  }

  /** The first sent entry waiting longer than its ack timeout for its PUBACK. */
  overdue(): { seq: number; timeoutMs: number } | undefined {
    const now = Date.now();
    for (const [seq, flight] of this.#flights) {
      if (flight.sent && now - flight.sentAt >= flight.timeoutMs) {
        return { seq, timeoutMs: flight.timeoutMs };
      }
    }
    return undefined;
  }

  /** One more failure of seq; park it once it reaches rejectAfter (its count then resets). */
  strike(seq: number): { strikes: number; park: boolean } {
    const strikes = (this.#strikes.get(seq) ?? 0) + 1;
    if (strikes < this.rejectAfter) {
      this.#strikes.set(seq, strikes);
      return { strikes, park: false };
    }
    this.#strikes.delete(seq);
    return { strikes, park: true };
  }

  /** Forgets what is in flight (not the strikes). */
  clear(): void {
    this.#flights.clear();
  }
}
