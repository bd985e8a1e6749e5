import { IPPROTO_TCP } from '../../../protocol/ip-protocols.js';
import { formatTcpFlags, TCP_FLAGS } from '../../../protocol/tcp.js';
import { type Frame, type FrameMeta, T0_NS } from './frames.js';

/**
 * The metering model: an independent TypeScript model of the semantics in
 * native/src/wirefleet.h that turns a timeline of frames (their `meta` only) into the exact flow
 * records and counters the engine must produce.
 */

const NS = 1_000_000_000n;

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
