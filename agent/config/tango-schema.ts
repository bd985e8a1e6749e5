import { isIPv4, isIPv6 } from 'node:net';
import * as z from 'zod';
import { ipv4PrefixProblem } from './values.js';

/**
 * The `tango` section of the agent config: this site's end of a Tango tunnel to one peer site
 * (issue 12). Both ends list the same paths (each from its own side) and the same classes.
 */

const int = (min: number, max: number) =>
  z
    .number()
    .int(`must be an integer ${min}-${max}`)
    .min(min, `must be an integer ${min}-${max}`)
    .max(max, `must be an integer ${min}-${max}`);
const ipv6 = z.string().refine((v) => isIPv6(v), 'must be an IPv6 address');
const ipv4 = z.string().refine((v) => isIPv4(v), 'must be an IPv4 address');
const prefix = z.string().superRefine((v, ctx) => {
  const problem = ipv4PrefixProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const portRange = z
  .tuple([int(0, 65_535), int(0, 65_535)])
  .refine(([a, b]) => a <= b, 'must be [first, last] with first <= last');

export const tangoPathConfigSchema = z.strictObject({
  path_id: int(0, 7),
  /** The outer interface this path leaves by (an ISP uplink, a VLAN...). */
  interface: z.string().regex(/^[^\s/:]{1,15}$/, 'must be a network interface name'),
  /** This node's IPv6 tunnel address on the path, and the peer's. */
  local_address: ipv6,
  peer_address: ipv6,
  /** Ethernet next hop towards peer_address; default: the kernel's neighbour entry. */
  next_hop_mac: z
    .string()
    .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, 'must be a MAC address aa:bb:cc:dd:ee:ff')
    .optional(),
  /** The peer site's IPv4 RLOC this path reaches (the cloud prefers RLOCs by their paths). */
  peer_rloc: ipv4,
});

export const tangoClassConfigSchema = z.strictObject({
  class_id: int(0, 15),
  protocol: z.enum(['udp', 'tcp', 'icmp']).optional(),
  src_prefix: prefix.optional(),
  dst_prefix: prefix.optional(),
  src_ports: portRange.optional(),
  dst_ports: portRange.optional(),
  /** The path the class starts on. */
  path: int(0, 7),
  /** Constraints the receiving node enforces by moving the class (steering.ts). */
  max_delay_ms: z.number().positive().max(60_000).optional(),
  max_loss: z.number().min(0).max(1).optional(),
  /** What "better" means for the class: lowest delay (fast_response) or lowest loss (bulk). */
  goal: z.enum(['delay', 'loss']).default('delay'),
});

export const tangoConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Which end of the pair (0 or 1); the peer has the other. */
    side: z.union([z.literal(0), z.literal(1)]).default(0),
    /** The secret both sites share (mode 0600, at least 32 bytes): epoch keys derive from it. */
    secret_file: z.string().min(1).max(4096).nullable().default(null),
    peer: z
      .strictObject({
        agent_id: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be an agent id')
          .optional(),
        name: z.string().min(1).max(64).optional(),
        /** The peer node's inner IPv4 address, for clock sync through the tunnel. */
        control_address: ipv4.optional(),
      })
      .prefault({}),
    /** This node's inner IPv4 address (inside the site prefix the peer routes to us). */
    control_address: ipv4.optional(),
    /** UDP port of the clock-sync probes between the two control addresses. */
    clock_sync_port: int(1024, 65_535).default(61_043),
    tun: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be an interface name')
      .default('wftango0'),
    /** The peer site's inner IPv4 prefixes, routed into the tunnel. */
    routes: z.array(prefix).max(64).default([]),
    udp_port: int(1024, 65_535).default(61_042),
    mtu: int(1280, 9216).default(1500),
    epoch_seconds: int(60, 604_800).default(3600),
    /** Peer clock minus ours, until clock sync measures it (or for good without it). */
    clock_offset_ms: z.number().min(-60_000).max(60_000).default(0),
    /** How often paths are measured and classes steered. */
    interval_ms: int(100, 60_000).default(1000),
    /** How often the measurements are published on the `paths` topic. */
    report_interval_sec: int(1, 3600).default(10),
    paths: z.array(tangoPathConfigSchema).max(8).default([]),
    classes: z.array(tangoClassConfigSchema).max(16).default([]),
  })
  .superRefine((c, ctx) => {
    const pathIds = new Set<number>();
    for (const [i, p] of c.paths.entries()) {
      if (pathIds.has(p.path_id)) {
        ctx.addIssue({ code: 'custom', path: ['paths', i, 'path_id'], message: 'used twice' });
      }
      pathIds.add(p.path_id);
    }
    const classIds = new Set<number>();
    for (const [i, k] of c.classes.entries()) {
      if (classIds.has(k.class_id)) {
        ctx.addIssue({ code: 'custom', path: ['classes', i, 'class_id'], message: 'used twice' });
      }
      classIds.add(k.class_id);
      if (c.paths.length > 0 && !pathIds.has(k.path)) {
        ctx.addIssue({
          code: 'custom',
          path: ['classes', i, 'path'],
          message: `no path ${k.path} in tango.paths`,
        });
      }
    }
    if ((c.control_address === undefined) !== (c.peer.control_address === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: c.control_address === undefined ? ['control_address'] : ['peer', 'control_address'],
        message: 'clock sync needs both tango.control_address and tango.peer.control_address',
      });
    }
    if (!c.enabled) return;
    if (c.secret_file === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret_file'],
        message: 'a Tango node needs the pair secret',
      });
    }
    if (c.paths.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['paths'],
        message: 'a Tango node needs at least one path',
      });
    }
  });

export type TangoConfig = z.infer<typeof tangoConfigSchema>;
