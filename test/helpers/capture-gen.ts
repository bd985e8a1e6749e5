import {
  formatIPv4,
  formatIPv6,
  isIPv4,
  parseIPv4,
  parseIPv6,
  parseMac,
} from '../../protocol/address.js';
import { concatBytes } from '../../protocol/bytes.js';
import { onesComplementSum } from '../../protocol/checksum.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  encodeEthernet,
  type VlanTag,
} from '../../protocol/ethernet.js';
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from '../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { encodeIPv6 } from '../../protocol/ipv6.js';
import { encodePcapHeader, encodePcapRecord, LINKTYPE_ETHERNET } from '../../protocol/pcap.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
} from '../../protocol/pcapng.js';
import { pseudoHeaderSum } from '../../protocol/pseudo-header.js';
import { encodeTcp, formatTcpFlags, TCP_FLAGS } from '../../protocol/tcp.js';
import { encodeUdp } from '../../protocol/udp.js';

/**
 * Capture-file generator for testing the C flow meter (native/src/wirefleet.h).
 *
 * Frames are built with the protocol/ encoders and each carries `meta`: what the frame *is*
 * (addresses, ports, IP length, fragment kind...) as the builder intended it, not as any parser
 * read it back. `meterModel` is an independent TypeScript model of the metering semantics that
 * turns a timeline of frames into the exact flow records and counters the engine must produce.
 */

// ---- time ----

/** 2024-01-01T00:00:00Z in epoch nanoseconds: every scenario is relative to it. */
export const T0_NS = 1_704_067_200_000_000_000n;
const NS = 1_000_000_000n;

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

const MACS = { a: '02:00:00:00:00:0a', b: '02:00:00:00:00:0b' };
const ETHERTYPE_ARP = 0x0806;
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

function ethernet(
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

function capture(spec: { t: number; snaplen?: number }, frame: Uint8Array, meta: FrameMeta): Frame {
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

/** ARP request (op 1) or reply (op 2) for IPv4 addresses. */
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

// ---- a TCP conversation with sequence numbers kept right ----

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

// ---- the metering model ----

export type ModelState = 'ACTIVE' | 'CLOSING' | 'CLOSED';
export type ModelEndReason = 'idle' | 'active' | 'fin_rst' | 'end_of_capture' | 'evicted';

/** The fields of a native FlowRecord that ground truth fixes (flow_id is a seeded hash). */
export interface ExpectedFlow {
  ip_version: 4 | 6;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  protocol: number;
  vlan_id: number;
  packets: number;
  bytes: number;
  packets_fwd: number;
  packets_rev: number;
  bytes_fwd: number;
  bytes_rev: number;
  /** Epoch seconds. */
  first_seen: number;
  last_seen: number;
  tcp_flags: string;
  state: ModelState;
  end_reason: ModelEndReason;
}

export interface ExpectedStats {
  packets: number;
  bytes: number;
  ip_packets: number;
  non_ip: number;
  parse_errors: number;
  fragments_unmatched: number;
}

export interface MeterModelOptions {
  idleTimeoutS: number;
  activeTimeoutS: number;
}

/** A timeline whose outcome would depend on choices wirefleet.h leaves open (see meterModel). */
export class AmbiguousTimelineError extends Error {
  override readonly name = 'AmbiguousTimelineError';
}

interface ModelFlow {
  key: string;
  family: 4 | 6;
  protocol: number;
  vlanId: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  packetsFwd: number;
  packetsRev: number;
  bytesFwd: number;
  bytesRev: number;
  firstNs: bigint;
  lastNs: bigint;
  flags: number;
  state: ModelState;
  finFwd: boolean;
  finRev: boolean;
}

/** How the previous record of a key ended, to catch timelines the engine may read either way. */
interface Ended {
  reason: ModelEndReason;
  deadlineNs: bigint;
  firstNs: bigint;
  lastNs: bigint;
  src: string;
  srcPort: number;
  state: ModelState;
}

/** wirefleet.h: WF_FRAG_TTL_NS. */
const FRAG_TTL_NS = 30n * NS;
/**
 * Timeout decisions must be clear by this much: the engine may compare with > or >=, expire on
 * a sweep that runs only now and then, and read timestamps from µs files.
 */
const MARGIN_NS = NS;

function flowKey(m: Extract<FrameMeta, { kind: 'ip' }>, srcPort: number, dstPort: number) {
  const a = `${m.src}#${srcPort}`;
  const b = `${m.dst}#${dstPort}`;
  return `${m.family}|${m.protocol}|${m.vlanId}|${a < b ? `${a}|${b}` : `${b}|${a}`}`;
}

/** Epoch seconds as the nearest double (Number(ns) alone would round to 256 ns first). */
const seconds = (ns: bigint) => Number(ns / NS) + Number(ns % NS) / 1e9;
const fmtS = (ns: bigint) => (Number(ns - T0_NS) / 1e9).toFixed(6);

/**
 * Meters a timeline the way wirefleet.h describes, from `meta` only:
 *
 * - flows are bidirectional, keyed by (family, protocol, vlan, addresses, ports); the initiator
 *   (src) is the source of the record's first packet; packets/bytes are counted per direction;
 *   bytes are IP lengths; tcp_flags is the OR over the record's packets;
 * - TCP: ACTIVE -> CLOSING on the first FIN -> CLOSED on a FIN from both sides or any RST; a
 *   CLOSED flow is emitted at once (fin_rst) and a later packet with its key starts a new flow;
 * - a packet more than idle seconds after the flow's last packet, or more than active seconds
 *   after the record's first packet, finds the record ended ('idle' / 'active') and starts a new
 *   one; records past a deadline are also ended when capture time passes it; the rest end as
 *   'end_of_capture';
 * - a later fragment takes the ports of its first fragment (same family, protocol, vlan,
 *   addresses and IP ID, at most 30 s earlier); without one it is metered with ports 0 and
 *   counted in fragments_unmatched.
 *
 * Where the header leaves a choice open the model throws AmbiguousTimelineError instead of
 * guessing, so scenarios stay clear of: deadlines within a second of a packet, records still
 * within a second of a deadline at the end, both deadlines passing together, an active-timeout
 * continuation that starts with a reverse packet or in a non-ACTIVE TCP state.
 */
export function meterModel(
  frames: readonly Frame[],
  opts: MeterModelOptions,
): { flows: ExpectedFlow[]; stats: ExpectedStats } {
  const idleNs = BigInt(opts.idleTimeoutS) * NS;
  const activeNs = BigInt(opts.activeTimeoutS) * NS;
  const table = new Map<string, ModelFlow>();
  const ended = new Map<string, Ended>();
  const swept: Ended[] = [];
  const frags = new Map<string, { srcPort: number; dstPort: number; tsNs: bigint }>();
  const out: ExpectedFlow[] = [];
  const stats: ExpectedStats = {
    packets: 0,
    bytes: 0,
    ip_packets: 0,
    non_ip: 0,
    parse_errors: 0,
    fragments_unmatched: 0,
  };
  const deadline = (f: { firstNs: bigint; lastNs: bigint }) => {
    const idle = f.lastNs + idleNs;
    const active = f.firstNs + activeNs;
    return idle <= active ? idle : active;
  };

  const emit = (f: ModelFlow, reason: ModelEndReason, deadlineNs: bigint) => {
    table.delete(f.key);
    const e: Ended = {
      reason,
      deadlineNs,
      firstNs: f.firstNs,
      lastNs: f.lastNs,
      src: f.src,
      srcPort: f.srcPort,
      state: f.state,
    };
    ended.set(f.key, e);
    if (reason === 'idle' || reason === 'active') swept.push(e);
    out.push({
      ip_version: f.family,
      src_ip: f.src,
      dst_ip: f.dst,
      src_port: f.srcPort,
      dst_port: f.dstPort,
      protocol: f.protocol,
      vlan_id: f.vlanId,
      packets: f.packetsFwd + f.packetsRev,
      bytes: f.bytesFwd + f.bytesRev,
      packets_fwd: f.packetsFwd,
      packets_rev: f.packetsRev,
      bytes_fwd: f.bytesFwd,
      bytes_rev: f.bytesRev,
      first_seen: seconds(f.firstNs),
      last_seen: seconds(f.lastNs),
      tcp_flags: formatTcpFlags(f.flags),
      state: f.state,
      end_reason: reason,
    });
  };

  // No record can end before this (deadlines only move later as packets arrive).
  let nextDeadline: bigint | undefined;
  const sweep = (now: bigint) => {
    if (nextDeadline === undefined || now <= nextDeadline) return;
    nextDeadline = undefined;
    for (const f of [...table.values()]) {
      const idle = f.lastNs + idleNs;
      const active = f.firstNs + activeNs;
      if (now <= idle && now <= active) continue;
      const first = idle <= active ? idle : active;
      const other = idle <= active ? active : idle;
      if (other < now + MARGIN_NS) {
        throw new AmbiguousTimelineError(
          `flow ${f.key}: idle and active deadlines both pass near ${fmtS(now)} s`,
        );
      }
      emit(f, idle <= active ? 'idle' : 'active', first);
    }
    for (const f of table.values()) {
      const d = deadline(f);
      if (nextDeadline === undefined || d < nextDeadline) nextDeadline = d;
    }
  };

  let lastTs = 0n;
  for (const frame of frames) {
    if (frame.tsNs < lastTs) throw new Error('frames must be in capture-time order');
    lastTs = frame.tsNs;
    stats.packets++;
    sweep(frame.tsNs);
    const m = frame.meta;
    if (m.kind === 'non_ip') {
      stats.non_ip++;
      continue;
    }
    if (m.kind === 'error') {
      stats.parse_errors++;
      continue;
    }
    stats.ip_packets++;
    stats.bytes += m.ipBytes;

    let { srcPort, dstPort } = m;
    const fragKey = `${m.family}|${m.protocol}|${m.vlanId}|${m.src}|${m.dst}|${m.ipId}`;
    if (m.fragment === 'first') frags.set(fragKey, { srcPort, dstPort, tsNs: frame.tsNs });
    if (m.fragment === 'later') {
      const hit = frags.get(fragKey);
      if (hit && frame.tsNs - hit.tsNs <= FRAG_TTL_NS - MARGIN_NS) {
        srcPort = hit.srcPort;
        dstPort = hit.dstPort;
      } else if (hit) {
        throw new AmbiguousTimelineError(`fragment ${fragKey} near the fragment cache TTL`);
      } else {
        stats.fragments_unmatched++;
      }
    }

    const key = flowKey(m, srcPort, dstPort);
    let flow = table.get(key);
    const before = flow ? undefined : ended.get(key);
    // The deadline of the record this packet belongs to, or of the one it finds ended.
    const due = flow
      ? deadline(flow)
      : before?.reason === 'fin_rst'
        ? undefined
        : before?.deadlineNs;
    if (due !== undefined) {
      const gap = frame.tsNs - due;
      if (gap > -MARGIN_NS && gap < MARGIN_NS) {
        throw new AmbiguousTimelineError(
          `flow ${key}: packet at ${fmtS(frame.tsNs)} s within a second of its deadline`,
        );
      }
    }
    if (!flow) {
      if (before?.reason === 'active') {
        if (before.src !== m.src || before.srcPort !== srcPort) {
          throw new AmbiguousTimelineError(
            `flow ${key}: the record after an active timeout starts with a reverse packet`,
          );
        }
        if (before.state !== 'ACTIVE') {
          throw new AmbiguousTimelineError(`flow ${key}: active timeout in state ${before.state}`);
        }
      }
      flow = {
        key,
        family: m.family,
        protocol: m.protocol,
        vlanId: m.vlanId,
        src: m.src,
        dst: m.dst,
        srcPort,
        dstPort,
        packetsFwd: 0,
        packetsRev: 0,
        bytesFwd: 0,
        bytesRev: 0,
        firstNs: frame.tsNs,
        lastNs: frame.tsNs,
        flags: 0,
        state: 'ACTIVE',
        finFwd: false,
        finRev: false,
      };
      table.set(key, flow);
      const d = deadline(flow);
      if (nextDeadline === undefined || d < nextDeadline) nextDeadline = d;
    }
    const forward = m.src === flow.src && srcPort === flow.srcPort;
    if (forward) {
      flow.packetsFwd++;
      flow.bytesFwd += m.ipBytes;
    } else {
      flow.packetsRev++;
      flow.bytesRev += m.ipBytes;
    }
    flow.lastNs = frame.tsNs;
    if (m.protocol === IPPROTO_TCP) {
      flow.flags |= m.tcpFlags;
      if (m.tcpFlags & TCP_FLAGS.RST) {
        flow.state = 'CLOSED';
      } else if (m.tcpFlags & TCP_FLAGS.FIN) {
        if (forward) flow.finFwd = true;
        else flow.finRev = true;
        flow.state = flow.finFwd && flow.finRev ? 'CLOSED' : 'CLOSING';
      }
      if (flow.state === 'CLOSED') emit(flow, 'fin_rst', frame.tsNs);
    }
  }

  for (const e of swept) {
    if (lastTs - e.deadlineNs < MARGIN_NS) {
      throw new AmbiguousTimelineError(
        `a record's deadline at ${fmtS(e.deadlineNs)} s is too close to the end of the capture`,
      );
    }
  }
  for (const f of [...table.values()]) {
    if (deadline(f) - lastTs < MARGIN_NS) {
      throw new AmbiguousTimelineError(
        `flow ${f.key} is within a second of its deadline at the end of the capture`,
      );
    }
    emit(f, 'end_of_capture', lastTs);
  }
  return { flows: out, stats };
}

// ---- capture files ----

export type PcapVariant = {
  precision?: 'micro' | 'nano';
  byteOrder?: 'little' | 'big';
  snaplen?: number;
};

function swap32(b: Uint8Array, at: number) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint32(at, v.getUint32(at, true), false);
}

function swap16(b: Uint8Array, at: number) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint16(at, v.getUint16(at, true), false);
}

/** A classic pcap file (Ethernet) of `frames`; big-endian swaps every header field. */
export function writePcap(frames: readonly Frame[], o: PcapVariant = {}): Uint8Array {
  const precision = o.precision ?? 'micro';
  const header = encodePcapHeader({
    linktype: LINKTYPE_ETHERNET,
    precision,
    ...(o.snaplen === undefined ? {} : { snaplen: o.snaplen }),
  });
  const records = frames.map((f) =>
    encodePcapRecord(
      { timestampNs: f.tsNs, data: f.data, originalLength: f.originalLength },
      precision,
    ),
  );
  if (o.byteOrder === 'big') {
    swap32(header, 0);
    swap16(header, 4);
    swap16(header, 6);
    for (const at of [8, 12, 16, 20]) swap32(header, at);
    for (const r of records) for (const at of [0, 4, 8, 12]) swap32(r, at);
  }
  // An array, not spread arguments: 100 000+ records would overflow the call stack.
  return concatBytes([header, ...records]);
}

/** A pcapng file: one section, one Ethernet interface, Enhanced Packet Blocks. */
export function writePcapng(
  frames: readonly Frame[],
  o: { tsresolNanos?: boolean } = {},
): Uint8Array {
  const tsresolNanos = o.tsresolNanos ?? true;
  return concatBytes([
    encodeSectionHeader({ userAppl: 'wirefleet capture-gen' }),
    encodeInterfaceDescription({ linktype: LINKTYPE_ETHERNET, name: 'gen0', tsresolNanos }),
    ...frames.map((f) =>
      encodeEnhancedPacket(
        { timestampNs: f.tsNs, data: f.data, originalLength: f.originalLength },
        { tsresolNanos },
      ),
    ),
  ]);
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

// ---- comparing engine output with ground truth ----

const FIELDS = [
  'ip_version',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'protocol',
  'vlan_id',
  'packets',
  'bytes',
  'packets_fwd',
  'packets_rev',
  'bytes_fwd',
  'bytes_rev',
  'first_seen',
  'last_seen',
  'tcp_flags',
  'state',
  'end_reason',
] as const satisfies readonly (keyof ExpectedFlow)[];

/** A flow-like object reduced to the ground-truth fields, in a fixed key order. */
export function project(flow: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = flow[f];
  return out;
}

const sortKey = (f: Record<string, unknown>) =>
  [
    f.ip_version,
    f.protocol,
    f.vlan_id,
    f.src_ip,
    f.src_port,
    f.dst_ip,
    f.dst_port,
    String(Math.round(Number(f.first_seen) * 1e3)).padStart(16, '0'),
  ].join('|');

/**
 * Both sides projected and sorted by a stable key, with the actual timestamps replaced by the
 * expected ones when they agree within 1 µs, ready for `expect(actual).toEqual(expected)`.
 */
export function alignFlows(
  actual: readonly Record<string, unknown>[],
  expected: readonly ExpectedFlow[],
): { actual: Record<string, unknown>[]; expected: Record<string, unknown>[] } {
  const sort = (rows: Record<string, unknown>[]) =>
    rows.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const e = sort(expected.map((f) => project(f as unknown as Record<string, unknown>)));
  const a = sort(actual.map(project));
  const wanted = new Map(e.map((row) => [sortKey(row), row]));
  for (const row of a) {
    const want = wanted.get(sortKey(row));
    if (!want) continue;
    for (const field of ['first_seen', 'last_seen'] as const) {
      if (Math.abs(Number(row[field]) - Number(want[field])) <= 1e-6) row[field] = want[field];
    }
  }
  return { actual: a, expected: e };
}
