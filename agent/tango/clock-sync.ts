import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/**
 * The offset between the two sites' clocks, measured through the tunnel itself (so the peer's
 * answers are as authenticated as any tunnel packet), the way NTP measures it (RFC 5905 §8):
 * we send t1; the peer notes when it received the probe (t2) and when it answered (t3); we note
 * t4. Then
 *
 *   offset = ((t2 - t1) + (t3 - t4)) / 2    (peer clock minus ours)
 *   rtt    = (t4 - t1) - (t3 - t2)
 *
 * exact when the path is as fast one way as the other. Of the last 16 samples the one with the
 * lowest rtt is used (NTP's clock filter: queueing only ever adds delay, and it is what makes
 * the two ways differ). The node subtracts the offset before it compares timestamps, so one-way
 * delays and freshness are measured on the peer's clock. Times are Date.now() milliseconds: the
 * Tango timestamp itself resolves 1.05 ms.
 */

export interface ClockSample {
  t1: number;
  t2: number;
  t3: number;
  t4: number;
}

export interface ClockEstimate {
  /** Peer clock minus ours. */
  offsetMs: number;
  /** Round trip of the sample the estimate comes from. */
  rttMs: number;
  samples: number;
}

export function sampleOffset(s: ClockSample): { offsetMs: number; rttMs: number } {
  return { offsetMs: (s.t2 - s.t1 + (s.t3 - s.t4)) / 2, rttMs: s.t4 - s.t1 - (s.t3 - s.t2) };
}

/** The last `size` samples; the estimate is the one with the lowest round trip. */
export class ClockFilter {
  private readonly samples: Array<{ offsetMs: number; rttMs: number }> = [];
  constructor(private readonly size = 16) {}

  push(sample: ClockSample): void {
    const s = sampleOffset(sample);
    if (!Number.isFinite(s.offsetMs) || s.rttMs < 0) return;
    this.samples.push(s);
    if (this.samples.length > this.size) this.samples.shift();
  }

  estimate(): ClockEstimate | undefined {
    if (this.samples.length === 0) return undefined;
    const best = this.samples.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
    return { ...best, samples: this.samples.length };
  }
}

const PROBE = 0x51; // 'Q'
const ANSWER = 0x41; // 'A'
/** type (1) | nonce (8) | t1, t2, t3 as float64 big-endian. */
const LENGTH = 1 + 8 + 3 * 8;

export interface ClockSyncOptions {
  /** This node's inner IPv4 address, which the peer reaches through the tunnel. */
  localAddress: string;
  /** The peer node's. */
  peerAddress: string;
  port: number;
  intervalMs: number;
  onEstimate(estimate: ClockEstimate): void;
  now?(): number;
}

/**
 * Answers the peer's probes and probes the peer every interval. One probe is in flight at a
 * time; its nonce must come back, so a stray or replayed answer is ignored.
 */
export class ClockSync {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly filter = new ClockFilter();
  private pending: { nonce: Buffer; t1: number } | undefined;
  private readonly now: () => number;

  constructor(private readonly o: ClockSyncOptions) {
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, from) => this.receive(msg, from.address, from.port));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, this.o.localAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => this.probe(), this.o.intervalMs);
    this.timer.unref();
    this.probe();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket?.close();
    this.socket = undefined;
  }

  estimate(): ClockEstimate | undefined {
    return this.filter.estimate();
  }

  private probe(): void {
    const nonce = randomBytes(8);
    const t1 = this.now();
    this.pending = { nonce, t1 };
    const msg = Buffer.alloc(LENGTH);
    msg[0] = PROBE;
    nonce.copy(msg, 1);
    msg.writeDoubleBE(t1, 9);
    this.socket?.send(msg, this.o.port, this.o.peerAddress);
  }

  private receive(msg: Buffer, address: string, port: number): void {
    const t = this.now();
    if (msg.length !== LENGTH || address !== this.o.peerAddress) return;
    if (msg[0] === PROBE) {
      const answer = Buffer.from(msg);
      answer[0] = ANSWER;
      answer.writeDoubleBE(t, 17);
      answer.writeDoubleBE(this.now(), 25);
      this.socket?.send(answer, port, address);
      return;
    }
    const pending = this.pending;
    if (msg[0] !== ANSWER || !pending || !msg.subarray(1, 9).equals(pending.nonce)) return;
    this.pending = undefined;
    this.filter.push({
      t1: pending.t1,
      t2: msg.readDoubleBE(17),
      t3: msg.readDoubleBE(25),
      t4: t,
    });
    const estimate = this.filter.estimate();
    if (estimate) this.o.onEstimate(estimate);
  }
}
