interface Flight {
  sentAt: number;
  /** Handed to MQTT.js (false while its payload is being read). */
  sent: boolean;
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

  constructor(private readonly rejectAfter: number) {}

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
    this.#flights.set(seq, { sentAt: Date.now(), sent: false });
  }

  /** The payload went to MQTT.js; the ack timeout starts now. */
  markSent(seq: number): void {
    const flight = this.#flights.get(seq);
    if (!flight) return;
    flight.sent = true;
    flight.sentAt = Date.now();
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
   * and the close was not already blamed on a refusal.
   */
  connectionLost(alreadyBlamed: boolean): number | undefined {
    let culprit: number | undefined;
    if (this.#flights.size > 0) {
      const [[seq, flight] = []] = this.#flights;
      if (this.#cautious && this.#flights.size === 1 && flight?.sent && !alreadyBlamed) {
        culprit = seq;
      }
      this.#cautious = true;
    }
    this.#flights.clear();
    return culprit;
  }

  /** The first entry waiting longer than timeoutMs for its PUBACK. */
  overdue(timeoutMs: number): number | undefined {
    const now = Date.now();
    for (const [seq, flight] of this.#flights) {
      if (now - flight.sentAt >= timeoutMs) return seq;
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
