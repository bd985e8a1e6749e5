import { decodeEthernet } from '../../protocol/ethernet.js';
import { decodeIPv4 } from '../../protocol/ipv4.js';
import { decodeLispData, formatLispFlags } from '../../protocol/lisp.js';
import { decodeUdp } from '../../protocol/udp.js';

/** The JSON view of a stored LISP packet (the seed's shape plus a few fields). */
export interface PacketRecord {
  packet_id: string;
  /** Epoch seconds with microseconds, as in the seed. */
  timestamp: number;
  instance_id: number;
  outer_header: {
    src_ip: string;
    dst_ip: string;
    src_port: number;
    dst_port: number;
    ttl: number;
    dscp: number;
    ip_id: number;
    ip_checksum: string;
    udp_checksum: number;
  };
  lisp_header: {
    flags: string;
    flag_names: string;
    nonce: number;
    instance_id: number;
    lsb: number;
  };
  inner_header: {
    src_ip: string;
    dst_ip: string;
    src_port: number;
    dst_port: number;
    protocol: number;
    ttl: number;
    dscp: number;
  };
  metadata: Record<string, string | number | boolean>;
}

const hex = (n: number, width = 2) => `0x${n.toString(16).padStart(width, '0')}`;

/**
 * Builds the record by decoding the frame itself, so the JSON can never
 * disagree with the bytes that go into PCAP files.
 */
export function summarizeFrame(
  frame: Uint8Array,
  info: { packetId: string; timestampUs: number; metadata: PacketRecord['metadata'] },
): PacketRecord {
  const outerIp = decodeIPv4(decodeEthernet(frame).payload);
  const outerUdp = decodeUdp(outerIp.payload);
  const lisp = decodeLispData(outerUdp.payload);
  const innerIp = decodeIPv4(lisp.payload);
  const innerUdp = decodeUdp(innerIp.payload);
  const h = lisp.header;
  return {
    packet_id: info.packetId,
    timestamp: info.timestampUs / 1e6,
    instance_id: h.instanceId ?? 0,
    outer_header: {
      src_ip: outerIp.header.src,
      dst_ip: outerIp.header.dst,
      src_port: outerUdp.header.srcPort,
      dst_port: outerUdp.header.dstPort,
      ttl: outerIp.header.ttl,
      dscp: outerIp.header.dscp,
      ip_id: outerIp.header.identification,
      ip_checksum: hex(outerIp.header.checksum, 4),
      udp_checksum: outerUdp.header.checksum,
    },
    lisp_header: {
      flags: hex(h.flagsByte),
      flag_names: formatLispFlags(h.flags),
      nonce: h.nonce ?? 0,
      instance_id: h.instanceId ?? 0,
      lsb: h.lsb,
    },
    inner_header: {
      src_ip: innerIp.header.src,
      dst_ip: innerIp.header.dst,
      src_port: innerUdp.header.srcPort,
      dst_port: innerUdp.header.dstPort,
      protocol: innerIp.header.protocol,
      ttl: innerIp.header.ttl,
      dscp: innerIp.header.dscp,
    },
    metadata: info.metadata,
  };
}
