import { TCP_FLAGS } from '../../../protocol/tcp.js';
import { type Frame, packet, type Vlan } from './frames.js';

/** A TCP conversation with sequence numbers kept right. */
export class TcpConversation {
  readonly frames: Frame[] = [];
  private seq = { c: 0, s: 0 };

  constructor(
    readonly o: {
      client: string;
      server: string;
      cport: number;
      sport: number;
      vlans?: Vlan[];
      isn?: { c: number; s: number };
    },
  ) {
    this.seq = { ...(o.isn ?? { c: 1_000_000, s: 5_000_000 }) };
  }

  /** A segment from the client ('c') or server ('s'); pure ACKs are padded to 60 bytes. */
  send(from: 'c' | 's', t: number, flags: number, payload = 0, options?: Uint8Array): this {
    const to = from === 'c' ? 's' : 'c';
    const c = from === 'c';
    const seq = this.seq[from];
    this.frames.push(
      packet({
        t,
        src: c ? this.o.client : this.o.server,
        dst: c ? this.o.server : this.o.client,
        ...(this.o.vlans === undefined ? {} : { vlans: this.o.vlans }),
        pad: payload === 0,
        l4: {
          proto: 'tcp',
          sport: c ? this.o.cport : this.o.sport,
          dport: c ? this.o.sport : this.o.cport,
          flags,
          seq,
          ack: flags & TCP_FLAGS.ACK ? this.seq[to] : 0,
          window: c ? 64240 : 65160,
          ...(options === undefined ? {} : { options }),
          payload,
        },
      }),
    );
    const consumed = payload + (flags & (TCP_FLAGS.SYN | TCP_FLAGS.FIN) ? 1 : 0);
    this.seq[from] = (seq + consumed) >>> 0;
    return this;
  }

  /** SYN (MSS option), SYN|ACK (MSS option), ACK at t, t+dt, t+2dt. */
  handshake(t: number, dt = 0.01): this {
    const mss = Uint8Array.of(2, 4, 0x05, 0xb4);
    return this.send('c', t, TCP_FLAGS.SYN, 0, mss)
      .send('s', t + dt, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 0, mss)
      .send('c', t + 2 * dt, TCP_FLAGS.ACK);
  }
}
