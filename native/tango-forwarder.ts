import { z } from 'zod';
import { loadEngine } from './index.js';
import {
  setHeldByForwarder,
  type TangoNode,
  type TangoNodeStats,
  type TangoPathStats,
  withHeldNode,
} from './tango.js';

/**
 * The Tango forwarder (native/src/tango_forward.c): a C thread that makes a TangoNode a tunnel
 * end. Inner IPv4 packets read from a TUN device are classified (5-tuple rules -> class -> path),
 * encapsulated and sent on the path's interface with an AF_PACKET socket; frames received on
 * each path are verified, and their inner packets written to the TUN, or, for an authenticated
 * route update from the peer, applied to the class map.
 *
 * - Route updates use the spec's embedded encoding (UDP source port = class, destination port =
 *   path) signed under a control tag domain that data frames never use: a host's own packet with
 *   such ports is forwarded as data, and a forged or replayed update is refused and counted.
 *   Copies go out on every path; the receiver applies the newest per class (the sender's issue
 *   time rides in the update), so copies that cross on paths of different delay never undo it.
 * - ECN: the core copies the inner DSCP/ECN outward; on receive the forwarder applies RFC 6040
 *   §4.2 (outer CE marks an ECT inner CE; a Not-ECT inner under CE is dropped and counted).
 * - PMTU: an inner packet bigger than its path carries (min(node mtu, interface MTU) - 58) is
 *   dropped and counted; with DF set, the host gets an ICMP fragmentation-needed (type 3 code 4,
 *   next-hop MTU) back through the TUN, sent in the name of the original destination.
 *
 * While the forwarder runs, the node belongs to its thread: use `locked(fn)` (or pathStats /
 * nodeStats) to touch the node, and stop() the forwarder before closing the node.
 */

export interface TangoClassRule {
  /** 0..15. */
  classId: number;
  protocol?: 'udp' | 'tcp' | 'icmp';
  /** IPv4 prefix such as "10.2.0.0/16" (no address bits beyond the length); a bare address is /32. */
  srcPrefix?: string;
  dstPrefix?: string;
  /** Inclusive port range; a rule with ports matches only TCP and UDP. */
  srcPorts?: [number, number];
  dstPorts?: [number, number];
}

export interface TangoForwarderOptions {
  /** Keys, paths and side already set on it. */
  node: TangoNode;
  /** Created (or opened, if it exists) by the forwarder; one it created goes away on stop(). */
  tunName: string;
  /** The outer interface of each configured path the forwarder uses. */
  paths: Array<{ pathId: number; interface: string }>;
  /** First match wins; unmatched traffic is class 0. At most 16. */
  classes?: TangoClassRule[];
  /** class -> path (16 entries); default every class on the lowest path id. */
  classPaths?: number[];
  /**
   * The network namespace the TUN and the sockets live in: a name under /run/netns
   * (`ip netns add NAME`) or an absolute path. The calling thread joins it only while starting.
   * Default: the caller's namespace.
   */
  netns?: string;
}

export interface TangoForwarderPathStats {
  pathId: number;
  /** Frames sent on the path: data and route updates. */
  txFrames: number;
  /** Frames accepted from the path: data and route updates. */
  rxFrames: number;
  /** Frames the socket refused to send. */
  txErrors: number;
  /** Receive errors, and frames numbered for another path. */
  rxErrors: number;
  /** Largest inner packet the path carries (min(node mtu, interface MTU) - 58). */
  maxInner: number;
}

export interface TangoForwarderStats {
  /** Packets read from the TUN. */
  tunRx: number;
  /** Inner packets written to the TUN. */
  tunTx: number;
  /** TUN packets not sent: not IPv4, malformed, too big for the path, no key. */
  encapErrors: number;
  /** Of encapErrors: bigger than the class's path carries. */
  tooBig: number;
  /** ICMP fragmentation-needed messages written back to the TUN (DF was set). */
  icmpFragNeeded: number;
  /** Outer CE over a Not-ECT inner packet (RFC 6040). */
  ecnDrops: number;
  /** Frames the node refused; the reasons are in its own counters (nodeStats). */
  rxRejected: number;
  tunWriteErrors: number;
  /** Control frames sent: one per path per sendRouteUpdate. */
  routeUpdatesSent: number;
  /** Updates from the peer applied to the class map. */
  routeUpdatesApplied: number;
  /** Authentic updates not newer than the class's last one: its copies on the other paths, or an
   *  older update it overtook on a faster path. */
  routeUpdatesIgnored: number;
  /** Refused frames that carried the route-update encoding (forged, replayed, stale...), and
   *  authentic updates naming a path this forwarder has no interface for. */
  routeUpdatesRefused: number;
  perPath: TangoForwarderPathStats[];
  /** False once the thread stopped on a fatal error (then `error` says why). */
  running: boolean;
  error: string | null;
}

/** The forwarder could not start, or refused a call; the message says why. */
export class TangoForwarderError extends Error {
  override readonly name = 'TangoForwarderError';
}

interface NativeRule {
  classId: number;
  protocol: number;
  srcNet: number;
  srcBits: number;
  dstNet: number;
  dstBits: number;
  srcPorts?: [number, number];
  dstPorts?: [number, number];
}

interface NativeForwarder {
  setClassPath(classId: number, pathId: number): void;
  sendRouteUpdate(classId: number, pathId: number): number;
  classPaths(): number[];
  stats(): TangoForwarderStats;
  locked<T>(fn: () => T): T;
  stop(): void;
}

interface ForwarderModule {
  TangoForwarder: new (options: {
    node: object;
    tunName: string;
    paths: Array<{ pathId: number; interface: string }>;
    classes: NativeRule[];
    classPaths: number[];
    netns: string;
  }) => NativeForwarder;
}

export const TANGO_CLASSES = 16;
const PROTOCOLS = { icmp: 1, tcp: 6, udp: 17 } as const;

const port = z.number().int().min(0).max(65535);
const portRange = z
  .tuple([port, port])
  .refine(([lo, hi]) => lo <= hi, 'a port range runs from low to high');
const prefix = z.string().transform((text, ctx) => {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});
const classId = z
  .number()
  .int()
  .min(0)
  .max(TANGO_CLASSES - 1);
const pathId = z.number().int().min(0).max(7);
const interfaceName = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[^/\s]+$/, 'an interface name has no slash or space');

const ruleSchema = z
  .object({
    classId,
    protocol: z.enum(['udp', 'tcp', 'icmp']).optional(),
    srcPrefix: prefix.optional(),
    dstPrefix: prefix.optional(),
    srcPorts: portRange.optional(),
    dstPorts: portRange.optional(),
  })
  .strict()
  .refine(
    (r) => r.protocol !== 'icmp' || (r.srcPorts === undefined && r.dstPorts === undefined),
    'ICMP has no ports',
  );

const optionsSchema = z
  .object({
    tunName: interfaceName,
    paths: z
      .array(z.object({ pathId, interface: interfaceName }).strict())
      .min(1)
      .max(8)
      .refine(
        (ps) => new Set(ps.map((p) => p.pathId)).size === ps.length,
        'path ids must be distinct',
      ),
    classes: z.array(ruleSchema).max(16).default([]),
    classPaths: z.array(pathId).length(TANGO_CLASSES).optional(),
    netns: z.string().min(1).max(255).optional(),
  })
  .refine(
    (o) => !o.classPaths || o.classPaths.every((p) => o.paths.some((q) => q.pathId === p)),
    'every classPaths entry must be one of the forwarder paths',
  );

/** "a.b.c.d/len" -> network (as an unsigned 32-bit number) and length, or why not. */
export function parsePrefix(text: string): { net: number; bits: number } | string {
  const [address, length, extra] = text.split('/');
  if (extra !== undefined || address === undefined) return `${text}: not an IPv4 prefix`;
  const octets = address.split('.');
  if (
    octets.length !== 4 ||
    !octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)
  ) {
    return `${text}: not an IPv4 address`;
  }
  const bits = length === undefined ? 32 : /^\d{1,2}$/.test(length) ? Number(length) : Number.NaN;
  if (!(bits >= 0 && bits <= 32)) return `${text}: the prefix length must be 0..32`;
  const net = octets.reduce((acc, o) => acc * 256 + Number(o), 0);
  const hostBits = 2 ** (32 - bits);
  if (net % hostBits !== 0) return `${text}: address bits beyond the prefix length`;
  return { net, bits };
}

function nativeRule(rule: z.infer<typeof ruleSchema>): NativeRule {
  return {
    classId: rule.classId,
    protocol: rule.protocol ? PROTOCOLS[rule.protocol] : 0,
    srcNet: rule.srcPrefix?.net ?? 0,
    srcBits: rule.srcPrefix?.bits ?? 0,
    dstNet: rule.dstPrefix?.net ?? 0,
    dstBits: rule.dstPrefix?.bits ?? 0,
    ...(rule.srcPorts ? { srcPorts: rule.srcPorts } : {}),
    ...(rule.dstPorts ? { dstPorts: rule.dstPorts } : {}),
  };
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
}

/** A running forwarder. */
export class TangoForwarder {
  private native: NativeForwarder | null;

  private constructor(
    native: NativeForwarder,
    readonly node: TangoNode,
  ) {
    this.native = native;
  }

  /** Opens the TUN and the path sockets and starts the thread; throws TangoForwarderError. */
  static start(options: TangoForwarderOptions): TangoForwarder {
    const { node, ...rest } = options;
    const parsed = optionsSchema.safeParse(rest);
    if (!parsed.success)
      throw new TangoForwarderError(`invalid forwarder options: ${zodMessage(parsed.error)}`);
    const o = parsed.data;
    const lowest = Math.min(...o.paths.map((p) => p.pathId));
    const engine = loadEngine() as unknown as ForwarderModule;
    try {
      const native = new engine.TangoForwarder({
        node: node.nativeHandle,
        tunName: o.tunName,
        paths: o.paths,
        classes: o.classes.map(nativeRule),
        classPaths: o.classPaths ?? Array.from({ length: TANGO_CLASSES }, () => lowest),
        netns: o.netns ?? '',
      });
      setHeldByForwarder(node, true);
      return new TangoForwarder(native, node);
    } catch (error) {
      throw new TangoForwarderError((error as Error).message);
    }
  }

  private get running(): NativeForwarder {
    if (!this.native) throw new TangoForwarderError('the Tango forwarder is stopped');
    return this.native;
  }

  private call<T>(fn: (native: NativeForwarder) => T): T {
    const native = this.running;
    try {
      return fn(native);
    } catch (error) {
      throw new TangoForwarderError((error as Error).message);
    }
  }

  /** Local steering: traffic of `classId` goes on `pathId` from now on. */
  setClassPath(classId: number, pathId: number): void {
    this.call((n) => n.setClassPath(classId, pathId));
  }

  /** Asks the peer to send `classId` on `pathId`: an authenticated update on every path. */
  sendRouteUpdate(classId: number, pathId: number): void {
    this.call((n) => n.sendRouteUpdate(classId, pathId));
  }

  /** class -> path, 16 entries. */
  classPaths(): number[] {
    return this.call((n) => n.classPaths());
  }

  stats(): TangoForwarderStats {
    return this.call((n) => n.stats());
  }

  /** Runs fn while the forwarding thread is held off the node (it waits meanwhile). */
  locked<T>(fn: (node: TangoNode) => T): T {
    const native = this.running;
    return native.locked(() => withHeldNode(this.node, () => fn(this.node)));
  }

  /** The node's measurements of one path, read safely while the thread runs. */
  pathStats(pathId: number): TangoPathStats {
    return this.locked((node) => node.pathStats(pathId));
  }

  /** The node's counters (rejects by reason), read safely while the thread runs. */
  nodeStats(): TangoNodeStats {
    return this.locked((node) => node.stats());
  }

  /** Joins the thread, closes the sockets and the TUN (one the forwarder created is removed). */
  async stop(): Promise<void> {
    const native = this.native;
    this.native = null;
    native?.stop();
    if (native) setHeldByForwarder(this.node, false);
  }
}
