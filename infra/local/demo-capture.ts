import { writeFile } from 'node:fs/promises';
import { concatBytes } from '../../protocol/bytes.js';
import { ETHERTYPE_IPV4, encodeEthernet } from '../../protocol/ethernet.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { encodePcapHeader, encodePcapRecord } from '../../protocol/pcap.js';
import { encodeTcp, TCP_FLAGS } from '../../protocol/tcp.js';
import { encodeUdp } from '../../protocol/udp.js';

/**
 * A small, believable capture for the local agent to replay when it may not
 * capture on loopback: TCP conversations with handshake and FIN, and DNS-like
 * UDP exchanges between a few hosts, stamped around `startNs`.
 */
export interface DemoCaptureOptions {
  flows?: number;
  /** Epoch nanoseconds of the first packet (default: now minus a minute). */
  startNs?: bigint;
}

const MAC = { client: '02:00:00:00:01:01', server: '02:00:00:00:02:02' };
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export function buildDemoCapture(options: DemoCaptureOptions = {}): Uint8Array {
  const flows = options.flows ?? 200;
  const start = options.startNs ?? BigInt(Date.now() - 60_000) * 1_000_000n;
  const records: Uint8Array[] = [encodePcapHeader({ precision: 'nano' })];
  const frame = (src: string, dst: string, protocol: number, l4: Uint8Array, forward: boolean) =>
    encodeEthernet(
      {
        src: forward ? MAC.client : MAC.server,
        dst: forward ? MAC.server : MAC.client,
        etherType: ETHERTYPE_IPV4,
      },
      encodeIPv4({ src, dst, protocol }, l4),
    );
  let clock = start;
  const push = (data: Uint8Array) => {
    clock += 1_000_000n; // 1 ms apart
    records.push(encodePcapRecord({ timestampNs: clock, data }, 'nano'));
  };

  for (let i = 0; i < flows; i++) {
    const client = `10.1.${(i >> 8) & 0xff}.${i & 0xff || 1}`;
    const server = `10.2.0.${(i % 8) + 10}`;
    const port = 40000 + i;
    if (i % 4 === 3) {
      // A DNS-like question and answer (the payload is zeros: tshark sees a DNS query, nothing more).
      const ask = encodeUdp({ srcPort: port, dstPort: 53 }, new Uint8Array(40), {
        checksum: 'compute',
        pseudo: { src: client, dst: server },
      });
      const answer = encodeUdp({ srcPort: 53, dstPort: port }, new Uint8Array(120), {
        checksum: 'compute',
        pseudo: { src: server, dst: client },
      });
      push(frame(client, server, IPPROTO_UDP, ask, true));
      push(frame(server, client, IPPROTO_UDP, answer, false));
      continue;
    }
    const dstPort = [443, 80, 8000][i % 3]!;
    const tcp = (forward: boolean, flags: number, seq: number, ack: number, bytes: number) => {
      const [src, dst] = forward ? [client, server] : [server, client];
      const segment = encodeTcp(
        {
          srcPort: forward ? port : dstPort,
          dstPort: forward ? dstPort : port,
          seq,
          ack,
          flags,
        },
        new Uint8Array(bytes),
        { src, dst },
      );
      push(frame(src, dst, IPPROTO_TCP, segment, forward));
    };
    const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
    const request = 200 + (i % 7) * 50;
    const response = 1000 + (i % 5) * 400;
    tcp(true, SYN, 1000, 0, 0);
    tcp(false, SYN | ACK, 5000, 1001, 0);
    tcp(true, ACK, 1001, 5001, 0);
    tcp(true, PSH | ACK, 1001, 5001, request);
    tcp(false, PSH | ACK, 5001, 1001 + request, response);
    tcp(true, FIN | ACK, 1001 + request, 5001 + response, 0);
    tcp(false, FIN | ACK, 5001 + response, 1002 + request, 0);
  }
  return concatBytes(records);
}

export async function writeDemoCapture(file: string, options: DemoCaptureOptions = {}) {
  await writeFile(file, buildDemoCapture(options), { mode: 0o600 });
}
