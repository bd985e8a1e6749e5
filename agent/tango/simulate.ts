import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ipCommand } from './ip-command.js';

/**
 * The topology of `wirefleet tango simulate`, in network namespaces on one machine:
 *
 *   host1 ──lan── tango1 ══p0..pN-1══ relay ══p0..pN-1══ tango2 ──lan── host2
 *
 * host1 and host2 are the two sites' hosts (IPv4, one /24 per site); tango1 and tango2 run the
 * Tango nodes (the forwarder creates their TUN device; routes to the other site point into it,
 * see routeSiteIntoTunnel); each path is a veth from tango1 into the relay namespace and another
 * from there to tango2, which the impairment relay bridges (native/tango-relay.ts). Paths carry
 * IPv6 tunnel addresses (nodad: nothing waits for duplicate address detection), though the nodes
 * build and check their frames themselves and never use the kernel's IPv6 stack for them.
 *
 * Interface names are fixed (each lives in its own namespace); namespace names carry a random
 * id, so runs never collide. MAC addresses are set here, not read back.
 */

export const MAX_SIMULATED_PATHS = 8;
export const SITE1_PREFIX = '10.91.1.0/24';
export const SITE2_PREFIX = '10.91.2.0/24';
export const HOST1_ADDRESS = '10.91.1.2';
export const HOST2_ADDRESS = '10.91.2.2';
export const TANGO1_LAN_ADDRESS = '10.91.1.1';
export const TANGO2_LAN_ADDRESS = '10.91.2.1';
export const TUN_NAME = 'tango0';

export interface SimulatedPath {
  pathId: number;
  /** The path's interface in tango1 and in tango2 (same name in each). */
  interface: string;
  /** The relay namespace's ends: a faces tango1, b faces tango2. */
  relayA: string;
  relayB: string;
  tango1Address: string;
  tango2Address: string;
  tango1Mac: string;
  tango2Mac: string;
}

export interface SimulatedTopology {
  id: string;
  namespaces: { host1: string; tango1: string; relay: string; tango2: string; host2: string };
  paths: SimulatedPath[];
}

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

function ip(args: string[]): void {
  ipCommand(args, (message) => new TopologyError(message));
}

function sysctl(ns: string, setting: string): void {
  ip(['netns', 'exec', ns, 'sysctl', '-qw', setting]);
}

/** 02:91:<role>:<path>:00:01, locally administered. */
function mac(role: number, path: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `02:91:${hex(role)}:${hex(path)}:00:01`;
}

/** The names and addresses of a topology with `pathCount` paths; nothing is created. */
export function planTopology(
  pathCount: number,
  id = randomBytes(3).toString('hex'),
): SimulatedTopology {
  if (!Number.isInteger(pathCount) || pathCount < 1 || pathCount > MAX_SIMULATED_PATHS) {
    throw new RangeError(`paths must be 1..${MAX_SIMULATED_PATHS}`);
  }
  const ns = (role: string) => `wfts-${id}-${role}`;
  return {
    id,
    namespaces: {
      host1: ns('h1'),
      tango1: ns('t1'),
      relay: ns('rl'),
      tango2: ns('t2'),
      host2: ns('h2'),
    },
    paths: Array.from({ length: pathCount }, (_, i) => ({
      pathId: i,
      interface: `p${i}`,
      relayA: `a${i}`,
      relayB: `b${i}`,
      tango1Address: `fd91:7a6e:0:${i}::1`,
      tango2Address: `fd91:7a6e:0:${i}::2`,
      tango1Mac: mac(0x11, i),
      tango2Mac: mac(0x22, i),
    })),
  };
}

/** Creates the namespaces, veths, addresses and host routes. On failure removes what it made. */
export function buildTopology(topology: SimulatedTopology): void {
  const { host1, tango1, relay, tango2, host2 } = topology.namespaces;
  try {
    for (const ns of [host1, tango1, relay, tango2, host2]) {
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The relay namespace relays frames and is no host: without IPv6 its interfaces send no
    // router solicitations or DAD probes of their own into the paths.
    sysctl(relay, 'net.ipv6.conf.all.disable_ipv6=1');
    sysctl(relay, 'net.ipv6.conf.default.disable_ipv6=1');
    for (const ns of [tango1, tango2]) {
      sysctl(ns, 'net.ipv4.ip_forward=1');
      // Packets from the TUN come from the other site's prefix: no reverse-path filtering.
      sysctl(ns, 'net.ipv4.conf.all.rp_filter=0');
      sysctl(ns, 'net.ipv4.conf.default.rp_filter=0');
    }
    for (const [host, tango, hostAddr, tangoAddr, remote] of [
      [host1, tango1, HOST1_ADDRESS, TANGO1_LAN_ADDRESS, SITE2_PREFIX],
      [host2, tango2, HOST2_ADDRESS, TANGO2_LAN_ADDRESS, SITE1_PREFIX],
    ] as const) {
      ip([
        'link',
        'add',
        'lan',
        'netns',
        host,
        'type',
        'veth',
        'peer',
        'name',
        'lan',
        'netns',
        tango,
      ]);
      ip(['-n', host, 'addr', 'add', `${hostAddr}/24`, 'dev', 'lan']);
      ip(['-n', tango, 'addr', 'add', `${tangoAddr}/24`, 'dev', 'lan']);
      ip(['-n', host, 'link', 'set', 'lan', 'up']);
      ip(['-n', tango, 'link', 'set', 'lan', 'up']);
      ip(['-n', host, 'route', 'add', remote, 'via', tangoAddr]);
    }
    for (const p of topology.paths) {
      ip([
        'link',
        'add',
        p.interface,
        'netns',
        tango1,
        'address',
        p.tango1Mac,
        'type',
        'veth',
        'peer',
        'name',
        p.relayA,
        'netns',
        relay,
      ]);
      ip([
        'link',
        'add',
        p.interface,
        'netns',
        tango2,
        'address',
        p.tango2Mac,
        'type',
        'veth',
        'peer',
        'name',
        p.relayB,
        'netns',
        relay,
      ]);
      ip(['-n', tango1, 'addr', 'add', `${p.tango1Address}/64`, 'dev', p.interface, 'nodad']);
      ip(['-n', tango2, 'addr', 'add', `${p.tango2Address}/64`, 'dev', p.interface, 'nodad']);
      for (const [ns, dev] of [
        [tango1, p.interface],
        [tango2, p.interface],
        [relay, p.relayA],
        [relay, p.relayB],
      ] as const) {
        ip(['-n', ns, 'link', 'set', dev, 'up']);
      }
    }
  } catch (error) {
    destroyTopology(topology);
    throw error;
  }
}

/** After a node's forwarder created its TUN: brings it up and routes the other site into it. */
export function routeSiteIntoTunnel(topology: SimulatedTopology, side: 0 | 1): void {
  const ns = side === 0 ? topology.namespaces.tango1 : topology.namespaces.tango2;
  ip(['-n', ns, 'link', 'set', TUN_NAME, 'up']);
  ip(['-n', ns, 'route', 'add', side === 0 ? SITE2_PREFIX : SITE1_PREFIX, 'dev', TUN_NAME]);
}

/**
 * Deletes every namespace of the topology (their interfaces go with them). Never throws:
 * it runs on errors and signals. Processes still inside a namespace keep it alive until
 * they exit, so stop them first.
 */
export function destroyTopology(topology: SimulatedTopology): void {
  for (const ns of Object.values(topology.namespaces)) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // not created, or already gone
    }
  }
}
