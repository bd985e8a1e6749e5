import { formatIPv4, formatIPv6, isIPv4, parseIPv4, parseIPv6 } from '../../../protocol/address.js';
import { concatBytes } from '../../../protocol/bytes.js';
import { onesComplementSum } from '../../../protocol/checksum.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  encodeEthernet,
  type VlanTag,
} from '../../../protocol/ethernet.js';
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from '../../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../../protocol/ipv4.js';
import { encodeIPv6 } from '../../../protocol/ipv6.js';
import { pseudoHeaderSum } from '../../../protocol/pseudo-header.js';
import { encodeTcp } from '../../../protocol/tcp.js';
import { encodeUdp } from '../../../protocol/udp.js';

/**
 * Frames for the capture-file generator: the Frame type and its `meta` (what the frame *is* as
 * the builder intended it, not as any parser read it back), capture time, and the builders of
 * IPv4/IPv6 packets and fragments. ARP, STP and damaged frames are in non-ip-and-broken.ts.
 */

// ---- time ----

/** 2024-01-01T00:00:00Z in epoch nanoseconds: every scenario is relative to it. */
export const T0_NS = 1_704_067_200_000_000_000n;

/** Capture time `seconds` after T0, rounded to whole microseconds (what a µs pcap can hold). */
export function at(seconds: number): bigint {
  return T0_NS + BigInt(Math.round(seconds * 1e6)) * 1000n;
}

// ---- frames ----

export type FragmentKind = 'none' | 'first' | 'later';

/** What a frame is, as generated. Addresses are in canonical text form (RFC 5952 for IPv6). */
export type FrameMeta =
  | {
      kind: 'ip';
      family: 4 | 6;
      /** Transport protocol (after IPv6 extension headers). */
      protocol: number;
      vlanId: number;
      src: string;
      dst: string;
      /** For later fragments: 0, the ports are the first fragment's (see wirefleet.h). */
      srcPort: number;
      dstPort: number;
      tcpFlags: number;
      /** IPv4 total length or 40 + IPv6 payload length. */
      ipBytes: number;
      fragment: FragmentKind;
      /** IPv4 identification or IPv6 fragment identification; 0 when not fragmented. */
      ipId: number;
    }
  | { kind: 'non_ip'; what: string }
  | { kind: 'error'; what: 'truncated' | 'malformed'; why: string };

export interface Frame {
  tsNs: bigint;
  /** Captured bytes (Ethernet). */
  data: Uint8Array;
  /** Length on the wire (>= data.length). */
  originalLength: number;
  meta: FrameMeta;
}

export type Vlan = number | { vid: number; pcp?: number; tpid?: number };

export type L4 =
  | {
      proto: 'tcp';
      sport: number;
      dport: number;
      flags: number;
      seq?: number;
      ack?: number;
      window?: number;
      options?: Uint8Array;
      payload?: number | Uint8Array;
    }
  | { proto: 'udp'; sport: number; dport: number; payload?: number | Uint8Array }
  /** ICMPv4 over IPv4, ICMPv6 over IPv6; `rest` is the 4 bytes after the checksum. */
  | { proto: 'icmp'; type: number; code: number; rest?: number; payload?: number | Uint8Array };

export interface PacketSpec {
  /** Seconds after T0. */
  t: number;
  src: string;
  dst: string;
  /** Outermost first; the innermost VID is the flow's vlan_id. */
  vlans?: Vlan[];
  l4: L4;
  /** IPv4 identification (default: a per-process counter). */
  ipId?: number;
  /** Pad the Ethernet frame to 60 bytes as a receiving NIC shows it (padding is not IP bytes). */
  pad?: boolean;
  /** Capture only this many bytes (snaplen); the wire length stays the full frame. */
  snaplen?: number;
  /** IPv6 only: put a Hop-by-Hop Options header (PadN) before the transport header. */
  hopByHop?: boolean;
}

/** The two stations every generated frame goes between. */
export const MACS = { a: '02:00:00:00:00:0a', b: '02:00:00:00:00:0b' };
const IPPROTO_HOPOPTS = 0;
const IPPROTO_FRAGMENT = 44;

let nextIpId = 0x1000;

export function payloadOf(p: number | Uint8Array | undefined): Uint8Array {
  if (p instanceof Uint8Array) return p;
  const out = new Uint8Array(p ?? 0);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

export function canonicalIp(text: string): string {
  return isIPv4(text) ? formatIPv4(parseIPv4(text)) : formatIPv6(parseIPv6(text));
}

function vlanTags(vlans: Vlan[] | undefined): (Partial<VlanTag> & { vid: number })[] {
  return (vlans ?? []).map((v) => (typeof v === 'number' ? { vid: v } : { ...v }));
}

function innermostVid(vlans: Vlan[] | undefined): number {
  const last = vlans?.[vlans.length - 1];
  return last === undefined ? 0 : typeof last === 'number' ? last : last.vid;
}

export function ethernet(
  vlans: Vlan[] | undefined,
  etherType: number,
  payload: Uint8Array,
  pad = false,
  from: 'a' | 'b' = 'a',
) {
  const frame = encodeEthernet(
    {
      dst: from === 'a' ? MACS.b : MACS.a,
      src: MACS[from],
      vlans: vlanTags(vlans) as Partial<VlanTag>[] & { vid: number }[],
      etherType,
    },
    payload,
  );
  if (!pad || frame.length >= 60) return frame;
  const padded = new Uint8Array(60);
  padded.set(frame);
  return padded;
}

/** ICMP (over IPv4) or ICMPv6 (over IPv6, checksum with the pseudo-header) message. */
export function encodeIcmp(
  m: { type: number; code: number; rest?: number },
  payload: Uint8Array,
  v6?: { src: string; dst: string },
): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  const v = new DataView(out.buffer);
  out[0] = m.type;
  out[1] = m.code;
  v.setUint32(4, m.rest ?? 0);
  out.set(payload, 8);
  const seed = v6 ? pseudoHeaderSum(v6, IPPROTO_ICMPV6, out.length, 'icmpv6') : 0;
  v.setUint16(2, ~onesComplementSum(out, seed) & 0xffff);
  return out;
}

/** RFC 8200 §4.3 Hop-by-Hop Options header holding one 4-byte PadN option. */
function hopByHopHeader(nextHeader: number): Uint8Array {
  return Uint8Array.of(nextHeader, 0, 1, 4, 0, 0, 0, 0);
}

/** RFC 8200 §4.5 Fragment header; `offset` in bytes (a multiple of 8). */
export function ipv6FragmentHeader(
  nextHeader: number,
  offset: number,
  more: boolean,
  id: number,
): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  out[0] = nextHeader;
  v.setUint16(2, offset | (more ? 1 : 0));
  v.setUint32(4, id);
  return out;
}

function transport(spec: PacketSpec): {
  protocol: number;
  bytes: Uint8Array;
  sport: number;
  dport: number;
  flags: number;
} {
  const pseudo = { src: spec.src, dst: spec.dst };
  const l4 = spec.l4;
  const payload = payloadOf(l4.payload);
  switch (l4.proto) {
    case 'tcp':
      return {
        protocol: IPPROTO_TCP,
        bytes: encodeTcp(
          {
            srcPort: l4.sport,
            dstPort: l4.dport,
            seq: l4.seq ?? 0,
            ack: l4.ack ?? 0,
            flags: l4.flags,
            ...(l4.window === undefined ? {} : { window: l4.window }),
            ...(l4.options === undefined ? {} : { options: l4.options }),
          },
          payload,
          pseudo,
        ),
        sport: l4.sport,
        dport: l4.dport,
        flags: l4.flags,
      };
    case 'udp':
      return {
        protocol: IPPROTO_UDP,
        bytes: encodeUdp({ srcPort: l4.sport, dstPort: l4.dport }, payload, {
          checksum: 'compute',
          pseudo,
        }),
        sport: l4.sport,
        dport: l4.dport,
        flags: 0,
      };
    case 'icmp': {
      const v6 = !isIPv4(spec.src);
      return {
        protocol: v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
        bytes: encodeIcmp(l4, payload, v6 ? pseudo : undefined),
        sport: 0,
        // NetFlow convention: ICMP type and code in the destination port.
        dport: (l4.type << 8) | l4.code,
        flags: 0,
      };
    }
  }
}

/** A frame as captured at `spec.t`, cut to `spec.snaplen` if given. */
export function capture(
  spec: { t: number; snaplen?: number },
  frame: Uint8Array,
  meta: FrameMeta,
): Frame {
  const data = spec.snaplen === undefined ? frame : frame.slice(0, spec.snaplen);
  return { tsNs: at(spec.t), data, originalLength: frame.length, meta };
}

/** One whole (unfragmented) IPv4 or IPv6 packet in an Ethernet frame. */
export function packet(spec: PacketSpec): Frame {
  const l4 = transport(spec);
  const v4 = isIPv4(spec.src);
  let ip: Uint8Array;
  let ipId = 0;
  if (v4) {
    ipId = spec.ipId ?? nextIpId++ & 0xffff;
    ip = encodeIPv4(
      {
        src: spec.src,
        dst: spec.dst,
        protocol: l4.protocol,
        identification: ipId,
        dontFragment: l4.protocol === IPPROTO_TCP,
      },
      l4.bytes,
    );
    ipId = 0; // not a fragment: the engine has no use for it
  } else {
    const body = spec.hopByHop ? concat(hopByHopHeader(l4.protocol), l4.bytes) : l4.bytes;
    ip = encodeIPv6(
      { src: spec.src, dst: spec.dst, nextHeader: spec.hopByHop ? IPPROTO_HOPOPTS : l4.protocol },
      body,
    );
  }
  const frame = ethernet(spec.vlans, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, ip, spec.pad);
  return capture(spec, frame, {
    kind: 'ip',
    family: v4 ? 4 : 6,
    protocol: l4.protocol,
    vlanId: innermostVid(spec.vlans),
    src: canonicalIp(spec.src),
    dst: canonicalIp(spec.dst),
    srcPort: l4.sport,
    dstPort: l4.dport,
    tcpFlags: l4.flags,
    ipBytes: ip.length,
    fragment: 'none',
    ipId,
  });
}

/**
 * One UDP datagram split into IP fragments of `fragmentSize` data bytes (a multiple of 8; the
 * last one holds the rest). Returned in wire order of offsets; reorder them to taste.
 * `dt` seconds between fragments.
 */
export function udpFragments(spec: {
  t: number;
  dt?: number;
  src: string;
  dst: string;
  vlans?: Vlan[];
  sport: number;
  dport: number;
  payload: number;
  ipId: number;
  fragmentSize: number;
}): Frame[] {
  if (spec.fragmentSize % 8 !== 0) throw new Error('fragmentSize must be a multiple of 8');
  const v4 = isIPv4(spec.src);
  const datagram = encodeUdp(
    { srcPort: spec.sport, dstPort: spec.dport },
    payloadOf(spec.payload),
    {
      checksum: 'compute',
      pseudo: { src: spec.src, dst: spec.dst },
    },
  );
  const frames: Frame[] = [];
  for (let offset = 0, i = 0; offset < datagram.length; offset += spec.fragmentSize, i++) {
    const chunk = datagram.subarray(offset, offset + spec.fragmentSize);
    const more = offset + spec.fragmentSize < datagram.length;
    const ip = v4
      ? encodeIPv4(
          {
            src: spec.src,
            dst: spec.dst,
            protocol: IPPROTO_UDP,
            identification: spec.ipId,
            dontFragment: false,
            moreFragments: more,
            fragmentOffset: offset,
          },
          chunk,
        )
      : encodeIPv6(
          { src: spec.src, dst: spec.dst, nextHeader: IPPROTO_FRAGMENT },
          concat(ipv6FragmentHeader(IPPROTO_UDP, offset, more, spec.ipId), chunk),
        );
    const first = offset === 0;
    const frame = ethernet(spec.vlans, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, ip, true);
    frames.push(
      capture({ t: spec.t + i * (spec.dt ?? 0.001) }, frame, {
        kind: 'ip',
        family: v4 ? 4 : 6,
        protocol: IPPROTO_UDP,
        vlanId: innermostVid(spec.vlans),
        src: canonicalIp(spec.src),
        dst: canonicalIp(spec.dst),
        srcPort: first ? spec.sport : 0,
        dstPort: first ? spec.dport : 0,
        tcpFlags: 0,
        ipBytes: ip.length,
        fragment: first ? 'first' : 'later',
        ipId: spec.ipId,
      }),
    );
  }
  return frames;
}

/** Sets the timestamps of `frames` (e.g. after reordering fragments) to t, t+dt, ... */
export function retime(frames: Frame[], t: number, dt: number): Frame[] {
  return frames.map((f, i) => ({ ...f, tsNs: at(t + i * dt) }));
}

/** Merges timelines by capture time; frames with equal times keep their order. */
export function mergeTimelines(...timelines: readonly Frame[][]): Frame[] {
  return timelines
    .flat()
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.tsNs < b.f.tsNs ? -1 : a.f.tsNs > b.f.tsNs ? 1 : a.i - b.i))
    .map(({ f }) => f);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}
