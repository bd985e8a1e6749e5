import { parseIPv4, parseMac } from '../../../protocol/address.js';
import { onesComplementSum } from '../../../protocol/checksum.js';
import { ETHERTYPE_IPV4, encodeEthernet } from '../../../protocol/ethernet.js';
import { capture, concat, ethernet, type Frame, MACS, type Vlan } from './frames.js';

/**
 * Frames the flow meter must count but not meter: non-IP traffic (ARP, STP) and frames damaged
 * on purpose (truncated, malformed), each with `meta` saying which it is.
 */

const ETHERTYPE_ARP = 0x0806;

export function arp(spec: {
  t: number;
  op: 1 | 2;
  senderIp: string;
  targetIp: string;
  vlans?: Vlan[];
}): Frame {
  const body = new Uint8Array(28);
  const v = new DataView(body.buffer);
  v.setUint16(0, 1); // Ethernet
  v.setUint16(2, ETHERTYPE_IPV4);
  body[4] = 6;
  body[5] = 4;
  v.setUint16(6, spec.op);
  const [sender, target] = spec.op === 1 ? (['a', 'b'] as const) : (['b', 'a'] as const);
  body.set(parseMac(MACS[sender]), 8);
  body.set(parseIPv4(spec.senderIp), 14);
  if (spec.op === 2) body.set(parseMac(MACS[target]), 18);
  body.set(parseIPv4(spec.targetIp), 24);
  const frame = ethernet(spec.vlans, ETHERTYPE_ARP, body, true, sender);
  if (spec.op === 1) frame.fill(0xff, 0, 6); // broadcast
  return capture(spec, frame, {
    kind: 'non_ip',
    what: spec.op === 1 ? 'arp request' : 'arp reply',
  });
}

/** IEEE 802.1D configuration BPDU: an 802.3 frame (length field, LLC), not Ethernet II. */
export function stpBpdu(t: number): Frame {
  const llc = Uint8Array.of(0x42, 0x42, 0x03);
  const bpdu = new Uint8Array(35); // protocol 0, version 0, type 0 (config), zeros otherwise
  bpdu[5] = 0x80; // root bridge priority 32768
  const body = concat(llc, bpdu);
  const frame = encodeEthernet(
    { dst: '01:80:c2:00:00:00', src: MACS.a, etherType: body.length },
    body,
  );
  const padded = new Uint8Array(60);
  padded.set(frame);
  return capture({ t }, padded, { kind: 'non_ip', what: 'stp bpdu' });
}

/** `frame` captured with only `caplen` bytes (wire length unchanged unless `runt`). */
export function truncatedFrame(frame: Frame, caplen: number, why: string, runt = false): Frame {
  const data = frame.data.slice(0, caplen);
  return {
    tsNs: frame.tsNs,
    data,
    originalLength: runt ? caplen : frame.originalLength,
    meta: { kind: 'error', what: 'truncated', why },
  };
}

/** `frame` with bytes patched (offsets into the frame), marked as a malformed frame. */
export function malformedFrame(frame: Frame, patch: [number, number][], why: string): Frame {
  const data = frame.data.slice();
  for (const [offset, value] of patch) data[offset] = value;
  return { ...frame, data, meta: { kind: 'error', what: 'malformed', why } };
}

/** Recomputes the IPv4 header checksum of an Ethernet frame (no VLAN), after patching. */
export function fixIPv4Checksum(frame: Frame): Frame {
  const data = frame.data.slice();
  const ihl = (data[14]! & 0x0f) * 4;
  const headerLength = Math.max(ihl, 20);
  data[24] = 0;
  data[25] = 0;
  const sum = ~onesComplementSum(data.subarray(14, 14 + headerLength)) & 0xffff;
  data[24] = sum >> 8;
  data[25] = sum & 0xff;
  return { ...frame, data };
}
