import { TangoNode } from '../../native/tango.js';
import { TangoForwarder, type TangoForwarderStats } from '../../native/tango-forwarder.js';
import type { TangoPathsMessage } from '../../protocol/tango-paths.js';
import type { AgentConfig } from '../config.js';
import type { AgentLogger } from '../log.js';
import { readSecretBytes } from '../secret-file.js';
import { type ClockEstimate, ClockSync } from './clock-sync.js';
import { TangoController } from './controller.js';
import { ipCommand } from './ip-command.js';
import { KeySchedule } from './key-schedule.js';
import type { PathInterval } from './path-intervals.js';
import { Steering } from './steering.js';

/**
 * Starts this site's Tango node from the agent config: the C node with its paths, the
 * forwarder (TUN + one AF_PACKET socket per path), routes to the peer site's prefixes into the
 * TUN, and the control loop (keys, steering, paths reports). Needs root (CAP_NET_ADMIN and
 * CAP_NET_RAW).
 */

/** The Tango section cannot start: the message says which part and why. */
export class TangoSetupError extends Error {
  override readonly name = 'TangoSetupError';
}

/** What GET /tango/status on the control API answers. */
export interface TangoStatus {
  forwarder: TangoForwarderStats;
  /** class id -> the path we asked the peer to send it on. */
  requested: Record<number, number>;
  /** Clock sync's estimate (peer minus ours), or null without clock sync or before a sample. */
  clock: ClockEstimate | null;
  /** The last interval's measurements, per path. */
  paths: PathInterval[];
}

export interface RunningTango {
  forwarder: TangoForwarder;
  controller: TangoController;
  clock?: ClockSync;
  status(): TangoStatus;
  stop(): Promise<void>;
}

export type TangoEvent = (
  type: 'tango_class_moved',
  message: string,
  details: Record<string, unknown>,
) => void;

export async function startTango(options: {
  config: Pick<AgentConfig, 'tango'>;
  logger: AgentLogger;
  publish(message: TangoPathsMessage): void;
  onEvent?: TangoEvent;
  /** Run the node in this network namespace (`ip netns` name); default the agent's own. */
  netns?: string;
}): Promise<RunningTango> {
  const t = options.config.tango;
  const ip = (...args: string[]) => runIp(options.netns ? ['-n', options.netns, ...args] : args);
  const secret = readSecretBytes(t.secret_file!, 'tango secret file');
  if (secret.length < 32) {
    throw new TangoSetupError(`tango secret file ${t.secret_file}: needs at least 32 bytes`);
  }
  const node = new TangoNode({ side: t.side, udpPort: t.udp_port, mtu: t.mtu });
  let forwarder: TangoForwarder | undefined;
  let controller: TangoController | undefined;
  try {
    node.setClockOffset(BigInt(Math.round(t.clock_offset_ms * 1e6)));
    for (const p of t.paths) {
      node.setPath({
        pathId: p.path_id,
        localAddress: p.local_address,
        peerAddress: p.peer_address,
        localMac: interfaceMac(ip, p.interface),
        nextHopMac: p.next_hop_mac ?? neighbourMac(ip, p.peer_address, p.interface),
      });
    }
    const classPaths = Array.from({ length: 16 }, () => Math.min(...t.paths.map((p) => p.path_id)));
    for (const c of t.classes) classPaths[c.class_id] = c.path;
    forwarder = TangoForwarder.start({
      node,
      tunName: t.tun,
      paths: t.paths.map((p) => ({ pathId: p.path_id, interface: p.interface })),
      classes: t.classes.map((c) => ({
        classId: c.class_id,
        ...(c.protocol ? { protocol: c.protocol } : {}),
        ...(c.src_prefix ? { srcPrefix: c.src_prefix } : {}),
        ...(c.dst_prefix ? { dstPrefix: c.dst_prefix } : {}),
        ...(c.src_ports ? { srcPorts: c.src_ports } : {}),
        ...(c.dst_ports ? { dstPorts: c.dst_ports } : {}),
      })),
      classPaths,
      ...(options.netns ? { netns: options.netns } : {}),
    });
    const fwd = forwarder;
    ip('link', 'set', t.tun, 'up');
    for (const route of t.routes) ip('route', 'replace', route, 'dev', t.tun);
    controller = new TangoController({
      // While the forwarder runs the node is its thread's: every call goes through its lock.
      node: {
        pathStats: (pathId) => fwd.pathStats(pathId),
        setSendKey: (epoch, key) => fwd.locked((n) => n.setSendKey(epoch, key)),
        rotateReceiveKey: (epoch, key, nowNs) =>
          fwd.locked((n) => n.rotateReceiveKey(epoch, key, nowNs)),
      },
      forwarder: fwd,
      keys: new KeySchedule({ pairSecret: secret, epochSeconds: t.epoch_seconds }),
      steering: new Steering(
        t.classes.map((c) => ({
          classId: c.class_id,
          goal: c.goal,
          ...(c.max_delay_ms !== undefined ? { maxDelayMs: c.max_delay_ms } : {}),
          ...(c.max_loss !== undefined ? { maxLoss: c.max_loss } : {}),
        })),
      ),
      initialPaths: new Map(t.classes.map((c) => [c.class_id, c.path])),
      endpoints: t.paths.map((p) => ({
        pathId: p.path_id,
        localAddress: p.local_address,
        peerAddress: p.peer_address,
        peerRloc: p.peer_rloc,
      })),
      // Who the peer is, for the cloud; its control address stays on the agent.
      peer: {
        ...(t.peer.agent_id ? { agent_id: t.peer.agent_id } : {}),
        ...(t.peer.name ? { name: t.peer.name } : {}),
      },
      intervalMs: t.interval_ms,
      reportIntervalMs: t.report_interval_sec * 1000,
      publish: options.publish,
      log: (message, fields) => {
        options.logger.info(message, fields);
        if (message === 'tango class moved' && fields) {
          options.onEvent?.(
            'tango_class_moved',
            `class ${fields.classId}: path ${fields.from} -> ${fields.to}`,
            fields,
          );
        }
      },
    });
    const control = controller;
    control.start();
    const clock = await startClockSync(t, fwd, options.logger);
    options.logger.info('tango node started', {
      side: t.side,
      tun: t.tun,
      paths: t.paths.map((p) => `${p.path_id}:${p.interface}`),
      routes: t.routes,
    });
    return {
      forwarder: fwd,
      controller: control,
      ...(clock ? { clock } : {}),
      status: () => {
        const { requested, paths } = control.status();
        return { forwarder: fwd.stats(), requested, clock: clock?.estimate() ?? null, paths };
      },
      stop: async () => {
        clock?.stop();
        control.stop();
        await fwd.stop();
        node.close();
        secret.fill(0);
      },
    };
  } catch (error) {
    controller?.stop();
    await forwarder?.stop().catch(() => undefined);
    node.close();
    secret.fill(0);
    if (error instanceof TangoSetupError) throw error;
    throw new TangoSetupError(`tango: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Clock sync with the peer through the tunnel, when both control addresses are configured: each
 * new estimate (peer minus ours) becomes the node's clock offset once it moves by 0.1 ms.
 */
async function startClockSync(
  t: AgentConfig['tango'],
  forwarder: TangoForwarder,
  logger: AgentLogger,
): Promise<ClockSync | undefined> {
  if (!t.control_address || !t.peer.control_address) return undefined;
  let applied = t.clock_offset_ms;
  const sync = new ClockSync({
    localAddress: t.control_address,
    peerAddress: t.peer.control_address,
    port: t.clock_sync_port,
    intervalMs: t.interval_ms,
    onEstimate: (estimate) => {
      if (Math.abs(estimate.offsetMs - applied) < 0.1) return;
      applied = estimate.offsetMs;
      forwarder.locked((n) => n.setClockOffset(BigInt(Math.round(applied * 1e6))));
      logger.debug('tango clock offset', { ...estimate });
    },
  });
  await sync.start();
  return sync;
}

type Ip = (...args: string[]) => string;

function interfaceMac(ip: Ip, name: string): string {
  let links: Array<{ address?: string }>;
  try {
    links = JSON.parse(ip('-j', 'link', 'show', 'dev', name)) as Array<{ address?: string }>;
  } catch {
    throw new TangoSetupError(`tango path interface ${name}: no such interface`);
  }
  const mac = links[0]?.address;
  if (!mac) throw new TangoSetupError(`tango path interface ${name}: has no Ethernet address`);
  return mac;
}

/** The kernel's neighbour entry for the peer's tunnel address (or its router's). */
function neighbourMac(ip: Ip, address: string, dev: string): string {
  const entries = JSON.parse(
    ip('-6', '-j', 'neigh', 'show', address, 'dev', dev) || '[]',
  ) as Array<{
    lladdr?: string;
  }>;
  const mac = entries.find((e) => e.lladdr)?.lladdr;
  if (!mac) {
    throw new TangoSetupError(
      `tango path via ${dev}: no neighbour entry for ${address}; set next_hop_mac or ping6 it first`,
    );
  }
  return mac;
}

function runIp(args: string[]): string {
  return ipCommand(args, (message) => new TangoSetupError(message));
}
