import { hex } from './bytes.js';
import { DecodeError } from './errors.js';
import { decodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import { IPPROTO_UDP } from './ip-protocols.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeLispData, formatLispFlags, LISP_DATA_PORT } from './lisp.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from './pcap.js';
import { decodeUdp, type PseudoHeader, udpChecksumValid } from './udp.js';

export interface Layer {
  name: 'ethernet' | 'ipv4' | 'ipv6' | 'udp' | 'lisp' | 'payload';
  /** Byte offset of the layer's header within the frame. */
  offset: number;
  /** Header length; for 'payload' the length of the remaining bytes. */
  length: number;
  /** snake_case keys, as shown to users in JSON. */
  fields: Record<string, string | number | boolean>;
}

export interface Dissection {
  layers: Layer[];
  /** Innermost bytes no layer claimed (e.g. the inner UDP payload). */
  payload: Uint8Array;
}

/** Every decoder returns subarrays of the frame, so offsets fall out of byteOffset. */
class Walk {
  readonly layers: Layer[] = [];
  constructor(private readonly frame: Uint8Array) {}

  add(name: Layer['name'], at: Uint8Array, length: number, fields: Layer['fields']) {
    this.layers.push({ name, offset: at.byteOffset - this.frame.byteOffset, length, fields });
  }
}

function ipv4(w: Walk, bytes: Uint8Array, inner: boolean): Uint8Array {
  const { header: h, headerLength, payload } = decodeIPv4(bytes);
  w.add('ipv4', bytes, headerLength, {
    version: 4,
    src: h.src,
    dst: h.dst,
    header_length: headerLength,
    dscp: h.dscp,
    ecn: h.ecn,
    total_length: h.totalLength,
    identification: hex(h.identification, 4),
    dont_fragment: h.dontFragment,
    more_fragments: h.moreFragments,
    fragment_offset: h.fragmentOffset,
    ttl: h.ttl,
    protocol: h.protocol,
    checksum: hex(h.checksum, 4),
    checksum_valid: h.checksumValid,
  });
  // Only an unfragmented packet holds a complete UDP datagram.
  const whole = !h.moreFragments && h.fragmentOffset === 0;
  if (!whole || h.protocol !== IPPROTO_UDP) return payload;
  return udp(w, payload, h, inner);
}

function ipv6(w: Walk, bytes: Uint8Array, inner: boolean): Uint8Array {
  const { header: h, headerLength, payload } = decodeIPv6(bytes);
  w.add('ipv6', bytes, headerLength, {
    version: 6,
    src: h.src,
    dst: h.dst,
    traffic_class: hex(h.trafficClass, 2),
    dscp: h.dscp,
    ecn: h.ecn,
    flow_label: hex(h.flowLabel, 5),
    payload_length: h.payloadLength,
    next_header: h.nextHeader,
    hop_limit: h.hopLimit,
  });
  // Extension headers are not walked: anything but UDP directly after the header stops here.
  return h.nextHeader === IPPROTO_UDP ? udp(w, payload, h, inner) : payload;
}

/** Inner packets of LISP (and raw captures) say their family only in the version nibble. */
function ipByVersion(w: Walk, bytes: Uint8Array, inner: boolean): Uint8Array {
  const version = (bytes[0] ?? 0) >> 4;
  if (bytes.length > 0 && version === 4) return ipv4(w, bytes, inner);
  if (bytes.length > 0 && version === 6) return ipv6(w, bytes, inner);
  return bytes;
}

function udp(w: Walk, bytes: Uint8Array, pseudo: PseudoHeader, inner: boolean): Uint8Array {
  const { header: h, headerLength, payload } = decodeUdp(bytes);
  w.add('udp', bytes, headerLength, {
    src_port: h.srcPort,
    dst_port: h.dstPort,
    length: h.length,
    checksum: hex(h.checksum, 4),
    checksum_valid: udpChecksumValid(bytes, { src: pseudo.src, dst: pseudo.dst }),
  });
  // Like Wireshark, LISP is recognised by port only; one level of encapsulation is decoded.
  if (inner || h.dstPort !== LISP_DATA_PORT) return payload;
  return lisp(w, payload);
}

function lisp(w: Walk, bytes: Uint8Array): Uint8Array {
  const { header: h, headerLength, payload } = decodeLispData(bytes);
  const fields: Layer['fields'] = {
    flags: formatLispFlags(h.flags),
    flags_byte: hex(h.flagsByte, 2),
    reserved: h.reserved,
  };
  if (h.nonce !== undefined) fields.nonce = h.nonce;
  if (h.sourceMapVersion !== undefined) fields.source_map_version = h.sourceMapVersion;
  if (h.destMapVersion !== undefined) fields.dest_map_version = h.destMapVersion;
  if (h.instanceId !== undefined) fields.instance_id = h.instanceId;
  if (h.flags.L) fields.lsb = h.lsb;
  w.add('lisp', bytes, headerLength, fields);
  return ipByVersion(w, payload, true);
}

/**
 * Decode ethernet -> IPv4/IPv6 -> UDP -> LISP (dst port 4341) -> inner IP -> UDP -> payload.
 * Unknown protocols end the walk with the rest as payload; truncated or inconsistent headers
 * throw DecodeError. `linktype` may also be LINKTYPE_RAW (packet starts at the IP header).
 */
export function dissectFrame(frame: Uint8Array, linktype = LINKTYPE_ETHERNET): Dissection {
  const w = new Walk(frame);
  let payload: Uint8Array;
  if (linktype === LINKTYPE_RAW) {
    payload = ipByVersion(w, frame, false);
  } else if (linktype === LINKTYPE_ETHERNET) {
    const { header: h, headerLength, payload: rest } = decodeEthernet(frame);
    const fields: Layer['fields'] = { dst: h.dst, src: h.src, ether_type: hex(h.etherType, 4) };
    if (h.vlans.length > 0) fields.vlan_ids = h.vlans.map((t) => t.vid).join(',');
    w.add('ethernet', frame, headerLength, fields);
    if (h.etherType === ETHERTYPE_IPV4) payload = ipv4(w, rest, false);
    else if (h.etherType === ETHERTYPE_IPV6) payload = ipv6(w, rest, false);
    else payload = rest;
  } else {
    throw new DecodeError('dissect', 'unsupported', `link type ${linktype}`, 0);
  }
  if (payload.length > 0) w.add('payload', payload, payload.length, {});
  return { layers: w.layers, payload };
}
