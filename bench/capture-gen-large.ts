import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { TCP_FLAGS } from '../protocol/tcp.js';
import { prng } from '../test/helpers/prng.js';

/**
 * A large synthetic pcap for flow-meter benchmarks, written straight to disk.
 *
 * The mix: 55% IPv4 TCP, 25% IPv4 UDP, 13% IPv6 TCP, 7% IPv6 UDP by flow; 10% of flows on VLANs
 * 100-109. TCP flows open with SYN (MSS option), SYN|ACK, ACK, carry request/response data, and
 * close with FIN|ACK both ways (90%) or a client RST (10%), so each is exactly one record that
 * ends fin_rst. UDP flows alternate small queries and larger answers and end at end_of_capture.
 * Packets per flow are heavy-tailed; about 1000 flows are open at a time and take turns at
 * random, 1-19 µs apart in capture time (so 2M packets span ~20 s).
 *
 * Payload bytes are zero, which makes every checksum cheap to get right: IPv4 header, TCP and UDP
 * checksums are all valid (tcpdump -vv and softflowd stay quiet). Each flow has its own client
 * address, so no 5-tuple repeats: with idle timeout >= `maxGapS` and active timeout >=
 * `durationS` (the engine defaults, 300 s and 1800 s, are far above both) and a table of at least
 * `concurrency` flows, the meter must emit exactly `flows` records holding `packets` packets and
 * `ipBytes` IP bytes.
 */

export interface LargeCaptureOptions {
  packets?: number;
  flows?: number;
  /** Flows open at once. */
  concurrency?: number;
  /** PRNG seed: the same options give the same file. */
  seed?: number;
  /** Bytes captured per packet, as tcpdump -s; 0 (default) keeps whole frames. */
  snaplen?: number;
  /** Capture time of the first packet, epoch ns. */
  startNs?: bigint;
}

export interface LargeCaptureTruth {
  packets: number;
  flows: number;
  /** Sum of IP lengths (IPv4 total length, IPv6 40 + payload length). */
  ipBytes: number;
  fileBytes: number;
  tcpFlows: number;
  udpFlows: number;
  ipv6Flows: number;
  vlanFlows: number;
  /** From the first packet to the last. */
  durationS: number;
  /** Longest silence within any flow. */
  maxGapS: number;
  seconds: number;
}

const TCP4 = 0;
const UDP4 = 1;
const TCP6 = 2;
const UDP6 = 3;
const { SYN, ACK, FIN, RST, PSH } = TCP_FLAGS;
const CHUNK = 4 << 20;

const fold = (s: number) => {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
  return x;
};

/** Packets of one flow's life, by kind and budget (TCP needs 5 for FIN/FIN, 4 for RST). */
function minimumPackets(kind: number, rst: boolean): number {
  if (kind === UDP4 || kind === UDP6) return 1;
  return rst ? 4 : 5;
}

export async function generateLargeCapture(
  path: string,
  options: LargeCaptureOptions = {},
): Promise<LargeCaptureTruth> {
  const started = performance.now();
  const totalPackets = options.packets ?? 2_000_000;
  const totalFlows = options.flows ?? 100_000;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1000, totalFlows));
  const snaplen = options.snaplen ?? 0;
  const rand = prng(options.seed ?? 1);
  if (totalFlows > 0xffffff) throw new RangeError('at most 16 777 215 flows (one client each)');

  // ---- the flows: kind, close, VLAN, packet budget ----
  const kind = new Uint8Array(totalFlows);
  const rst = new Uint8Array(totalFlows);
  const vlan = new Uint16Array(totalFlows);
  const budget = new Uint32Array(totalFlows);
  const weight = new Float64Array(totalFlows);
  let minimum = 0;
  let weights = 0;
  const truth = { tcpFlows: 0, udpFlows: 0, ipv6Flows: 0, vlanFlows: 0 };
  for (let f = 0; f < totalFlows; f++) {
    const r = rand();
    kind[f] = r < 0.55 ? TCP4 : r < 0.8 ? UDP4 : r < 0.93 ? TCP6 : UDP6;
    rst[f] = rand() < 0.1 ? 1 : 0;
    vlan[f] = rand() < 0.1 ? 100 + Math.floor(rand() * 10) : 0;
    budget[f] = minimumPackets(kind[f]!, rst[f] === 1);
    minimum += budget[f]!;
    // Pareto (alpha 1.2), capped: most flows short, a few elephants.
    weight[f] = Math.min(1000, (1 - rand()) ** (-1 / 1.2));
    weights += weight[f]!;
    if (kind[f] === TCP4 || kind[f] === TCP6) truth.tcpFlows++;
    else truth.udpFlows++;
    if (kind[f]! >= TCP6) truth.ipv6Flows++;
    if (vlan[f]) truth.vlanFlows++;
  }
  if (minimum > totalPackets) {
    throw new RangeError(`${totalFlows} flows need at least ${minimum} packets`);
  }
  let spare = totalPackets - minimum;
  for (let f = 0; f < totalFlows && spare > 0; f++) {
    const extra = Math.min(spare, Math.floor(((totalPackets - minimum) * weight[f]!) / weights));
    budget[f]! += extra;
    spare -= extra;
  }
  for (let f = 0; spare > 0; f = (f + 1) % totalFlows, spare--) budget[f]!++;

  // ---- output ----
  const stream = createWriteStream(path, { highWaterMark: CHUNK });
  const failed = once(stream, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  let buf = Buffer.alloc(CHUNK);
  let o = 0;
  let fileBytes = 0;
  const flush = async () => {
    fileBytes += o;
    if (!stream.write(o === CHUNK ? buf : buf.subarray(0, o))) {
      await Promise.race([once(stream, 'drain'), failed]);
    }
    buf = Buffer.alloc(CHUNK); // zeroed: payloads are zeros
    o = 0;
  };
  // pcap header, µs, Ethernet.
  buf.writeUInt32LE(0xa1b2c3d4, 0);
  buf.writeUInt16LE(2, 4);
  buf.writeUInt16LE(4, 6);
  buf.writeUInt32LE(snaplen > 0 ? snaplen : 262144, 16);
  buf.writeUInt32LE(1, 20);
  o = 24;

  // ---- per-flow state ----
  const sent = new Uint32Array(totalFlows);
  const seqC = new Uint32Array(totalFlows);
  const seqS = new Uint32Array(totalFlows);
  const lastUs = new Float64Array(totalFlows);
  const slots: number[] = [];
  let nextFlow = 0;
  while (slots.length < concurrency && nextFlow < totalFlows) slots.push(nextFlow++);

  let us = Number((options.startNs ?? 1_704_067_200_000_000_000n) / 1000n);
  const firstUs = us;
  let ipBytes = 0;
  let ipId = 0;
  let maxGapUs = 0;

  for (let written = 0; written < totalPackets; written++) {
    const slot = Math.floor(rand() * slots.length);
    const f = slots[slot]!;
    const k = kind[f]!;
    const n = sent[f]!;
    const last = budget[f]! - 1;
    const v6 = k >= TCP6;
    const tcp = k === TCP4 || k === TCP6;

    // What this packet is: direction, TCP flags, TCP options length, payload length.
    let fromClient = true;
    let flags = 0;
    let optLen = 0;
    let payload = 0;
    if (tcp) {
      if (n === 0) {
        flags = SYN;
        optLen = 4;
        seqC[f] = (rand() * 0xffffffff) >>> 0;
        seqS[f] = (rand() * 0xffffffff) >>> 0;
      } else if (n === 1) {
        fromClient = false;
        flags = SYN | ACK;
        optLen = 4;
      } else if (rst[f] && n === last) {
        flags = RST | ACK;
      } else if (!rst[f] && n === last - 1) {
        flags = FIN | ACK;
      } else if (!rst[f] && n === last) {
        fromClient = false;
        flags = FIN | ACK;
      } else if (n === 2) {
        flags = ACK;
      } else {
        switch ((n - 3) % 4) {
          case 0:
            flags = PSH | ACK;
            payload = 120 + ((f * 7) & 0xff);
            break;
          case 1:
            fromClient = false;
            flags = ACK;
            payload = 1448;
            break;
          case 2:
            fromClient = false;
            flags = PSH | ACK;
            payload = 400;
            break;
          default:
            flags = ACK;
        }
      }
    } else {
      fromClient = n % 2 === 0;
      payload = fromClient ? 40 + (f & 0x3f) : 600;
    }

    const l4 = tcp ? 20 + optLen + payload : 8 + payload;
    const ipLen = (v6 ? 40 : 20) + l4;
    const frameLen = 14 + (vlan[f] ? 4 : 0) + ipLen;
    const caplen = snaplen > 0 && frameLen > snaplen ? snaplen : frameLen;
    // Whole frames are written even when cut (the next record overwrites the tail).
    if (o + 16 + frameLen > CHUNK) await flush();

    // pcap record header
    const sec = Math.floor(us / 1e6);
    buf.writeUInt32LE(sec, o);
    buf.writeUInt32LE(us - sec * 1e6, o + 4);
    buf.writeUInt32LE(caplen, o + 8);
    buf.writeUInt32LE(frameLen, o + 12);
    let p = o + 16;

    // Ethernet (locally administered MACs: client 02:..:01, server 02:..:02)
    buf[p + 5] = fromClient ? 2 : 1;
    buf[p] = 2;
    buf[p + 6] = 2;
    buf[p + 11] = fromClient ? 1 : 2;
    p += 12;
    if (vlan[f]) {
      buf[p] = 0x81;
      buf[p + 1] = 0;
      buf[p + 2] = vlan[f]! >> 8;
      buf[p + 3] = vlan[f]! & 0xff;
      p += 4;
    }
    buf[p] = v6 ? 0x86 : 0x08;
    buf[p + 1] = v6 ? 0xdd : 0x00;
    p += 2;

    // IP: client 10.a.b.c / 2001:db8:c::a:bc, server 172.16.x.y / 2001:db8:5::x
    const cA = (f >>> 16) & 0xff;
    const cB = (f >>> 8) & 0xff;
    const cC = f & 0xff;
    const sX = f & 0x3f;
    const sY = 1 + ((f >>> 6) % 200);
    const proto = tcp ? 6 : 17;
    let addrSum: number;
    if (!v6) {
      buf[p] = 0x45;
      buf.writeUInt16BE(ipLen, p + 2);
      ipId = (ipId + 1) & 0xffff;
      buf.writeUInt16BE(ipId, p + 4);
      buf[p + 6] = 0x40; // DF
      buf[p + 8] = 64;
      buf[p + 9] = proto;
      const src = fromClient ? p + 12 : p + 16;
      const dst = fromClient ? p + 16 : p + 12;
      buf[src] = 10;
      buf[src + 1] = cA;
      buf[src + 2] = cB;
      buf[src + 3] = cC;
      buf[dst] = 172;
      buf[dst + 1] = 16 + (sX >> 4);
      buf[dst + 2] = sX;
      buf[dst + 3] = sY;
      addrSum =
        ((10 << 8) | cA) + ((cB << 8) | cC) + (((172 << 8) | (16 + (sX >> 4))) + ((sX << 8) | sY));
      const headerSum = 0x4500 + ipLen + ipId + 0x4000 + ((64 << 8) | proto) + addrSum;
      buf.writeUInt16BE(~fold(headerSum) & 0xffff, p + 10);
      p += 20;
    } else {
      buf[p] = 0x60;
      buf.writeUInt16BE(l4, p + 4);
      buf[p + 6] = proto;
      buf[p + 7] = 64;
      const src = fromClient ? p + 8 : p + 24;
      const dst = fromClient ? p + 24 : p + 8;
      // 2001:db8:c::<f hi>:<f lo>
      buf[src] = 0x20;
      buf[src + 1] = 0x01;
      buf[src + 2] = 0x0d;
      buf[src + 3] = 0xb8;
      buf[src + 5] = 0x0c;
      buf[src + 13] = cA;
      buf[src + 14] = cB;
      buf[src + 15] = cC;
      buf[dst] = 0x20;
      buf[dst + 1] = 0x01;
      buf[dst + 2] = 0x0d;
      buf[dst + 3] = 0xb8;
      buf[dst + 5] = 0x05;
      buf[dst + 15] = sX + 1;
      addrSum = 2 * (0x2001 + 0x0db8) + 0x000c + cA + ((cB << 8) | cC) + 0x0005 + (sX + 1);
      p += 40;
    }

    // Transport, checksum over pseudo-header and header (the payload is zeros).
    const sport = fromClient ? 1024 + (f % 60000) : tcp ? (f % 3 === 0 ? 80 : 443) : 53;
    const dport = fromClient ? (tcp ? (f % 3 === 0 ? 80 : 443) : 53) : 1024 + (f % 60000);
    buf.writeUInt16BE(sport, p);
    buf.writeUInt16BE(dport, p + 2);
    let sum = addrSum + proto + l4 + sport + dport;
    if (tcp) {
      const seq = fromClient ? seqC[f]! : seqS[f]!;
      const ack = flags & ACK ? (fromClient ? seqS[f]! : seqC[f]!) : 0;
      buf.writeUInt32BE(seq, p + 4);
      buf.writeUInt32BE(ack, p + 8);
      const offFlags = (((20 + optLen) / 4) << 12) | flags;
      buf.writeUInt16BE(offFlags, p + 12);
      const window = fromClient ? 64240 : 65160;
      buf.writeUInt16BE(window, p + 14);
      sum += (seq >>> 16) + (seq & 0xffff) + (ack >>> 16) + (ack & 0xffff) + offFlags + window;
      if (optLen) {
        buf.writeUInt32BE(0x020405b4, p + 20); // MSS 1460
        sum += 0x0204 + 0x05b4;
      }
      buf.writeUInt16BE(~fold(sum) & 0xffff, p + 16);
      const consumed = payload + (flags & (SYN | FIN) ? 1 : 0);
      if (fromClient) seqC[f] = (seq + consumed) >>> 0;
      else seqS[f] = (seq + consumed) >>> 0;
    } else {
      buf.writeUInt16BE(l4, p + 4);
      sum += l4;
      const c = ~fold(sum) & 0xffff;
      buf.writeUInt16BE(c === 0 ? 0xffff : c, p + 6);
    }
    // Payloads are the zeros of a fresh chunk; a cut frame's headers past caplen are cleared
    // so that the next record's payload starts out zero too.
    if (caplen < frameLen) buf.fill(0, o + 16 + caplen, o + 16 + frameLen);

    ipBytes += ipLen;
    o += 16 + caplen;
    if (n > 0) maxGapUs = Math.max(maxGapUs, us - lastUs[f]!);
    lastUs[f] = us;
    sent[f] = n + 1;
    if (n === last) {
      if (nextFlow < totalFlows) slots[slot] = nextFlow++;
      else {
        slots[slot] = slots[slots.length - 1]!;
        slots.pop();
      }
    }
    us += 1 + Math.floor(rand() * 19);
  }
  if (o > 0) await flush();
  stream.end();
  await Promise.race([once(stream, 'finish'), failed]);
  return {
    packets: totalPackets,
    flows: totalFlows,
    ipBytes,
    fileBytes,
    ...truth,
    durationS: (us - firstUs) / 1e6,
    maxGapS: maxGapUs / 1e6,
    seconds: (performance.now() - started) / 1000,
  };
}
