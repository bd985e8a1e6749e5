import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deriveEpochKey, TangoNode, type TangoPathStats } from '../../native/tango.js';
import { type TangoClassRule, TangoForwarder } from '../../native/tango-forwarder.js';
import { ImpairmentRelay } from '../../native/tango-relay.js';
import {
  buildTopology,
  destroyTopology,
  HOST2_ADDRESS,
  planTopology,
  routeSiteIntoTunnel,
  type SimulatedTopology,
  TUN_NAME,
} from './simulate.js';
import {
  captureFileFor,
  finishCaptures,
  type PathCapture,
  startPathCapture,
} from './simulate-capture.js';
import { sendTraffic, startSink, TRAFFIC_BASE_PORT, type TrafficSink } from './simulate-traffic.js';

/**
 * `wirefleet tango simulate`: builds the topology (simulate.ts), puts an impairment relay on each
 * path, runs a Tango node pair (TangoNode + TangoForwarder, keys from a random pair secret) in
 * tango1 and tango2, sends UDP from host1 to host2 with one class per path, and reports what
 * tango2 measured per path beside what the relay injected. Everything it made is removed on the
 * way out, whether the run succeeded, failed or was aborted.
 *
 * One-way delay: both nodes read the same machine clock, so the clock offset between them is 0
 * (set explicitly); the delay tango2 measures is the relay's injected delay plus the time the
 * frames spend in the two nodes and the kernel.
 */

export interface InjectedImpairment {
  delayMs: number;
  loss: number;
  reorder: number;
}

export interface SimulationOptions {
  paths: InjectedImpairment[];
  seconds: number;
  /** Datagrams per second on each path. */
  rate: number;
  /** Merge the tunnel traffic into this pcap. */
  write?: string;
  signal?: AbortSignal;
  /** Progress lines (for stderr). */
  log?: (line: string) => void;
}

export interface SimulatedPathResult {
  path_id: number;
  injected: { delay_ms: number; loss: number; reorder: number };
  measured: {
    delay_ms: number | null;
    jitter_ms: number | null;
    loss: number | null;
    reorder: number | null;
    packets: number;
    /** Datagrams of the path's class that reached host2 intact. */
    delivered: number;
  };
  /** What the relay did to the path's tango1 -> tango2 frames (the injected values realised). */
  relay: { received: number; dropped_loss: number; reordered: number; forwarded: number };
}

export interface SimulationResult {
  paths: SimulatedPathResult[];
}

const EPOCH = 1;

/**
 * Long enough that a held-back frame is overtaken by several later ones at the path's rate, and
 * at most 200 ms: with the largest delay (500 ms) a held-back frame stays under the receiving
 * node's 750 ms maximum age instead of being refused as stale.
 */
export function reorderDelayMs(rate: number): number {
  return Math.min(200, Math.max(10, Math.ceil((3 * 1000) / rate)));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function measuredOf(s: TangoPathStats, delivered: number): SimulatedPathResult['measured'] {
  return {
    delay_ms: s.delay_samples > 0 ? round(s.delay_sum_ns / s.delay_samples / 1e6, 3) : null,
    jitter_ms: s.delay_samples > 1 ? round(s.jitter_ns / 1e6, 3) : null,
    loss: s.rx_expected > 0 ? round(s.rx_lost / s.rx_expected, 5) : null,
    reorder: s.rx_packets > 0 ? round(s.rx_reordered / s.rx_packets, 5) : null,
    packets: s.rx_packets,
    delivered,
  };
}

/** Every path's class: destination port basePort + i, carried on path i. */
function classesFor(pathCount: number): { classes: TangoClassRule[]; classPaths: number[] } {
  const classes: TangoClassRule[] = [];
  const classPaths = new Array<number>(16).fill(0);
  for (let i = 0; i < pathCount; i++) {
    const port = TRAFFIC_BASE_PORT + i;
    classes.push({ classId: i + 1, protocol: 'udp', dstPorts: [port, port] });
    classPaths[i + 1] = i;
  }
  return { classes, classPaths };
}

function startNode(
  topology: SimulatedTopology,
  side: 0 | 1,
  key: Uint8Array,
): { node: TangoNode; forwarder: TangoForwarder } {
  const node = new TangoNode({ side });
  const ours = side === 0 ? 'tango1' : 'tango2';
  const theirs = side === 0 ? 'tango2' : 'tango1';
  for (const p of topology.paths) {
    node.setPath({
      pathId: p.pathId,
      localAddress: p[`${ours}Address`],
      peerAddress: p[`${theirs}Address`],
      localMac: p[`${ours}Mac`],
      // The relay is transparent: the next hop on the path is the peer's interface itself.
      nextHopMac: p[`${theirs}Mac`],
    });
  }
  node.setSendKey(EPOCH, key);
  node.rotateReceiveKey(EPOCH, key);
  node.setClockOffset(0n); // one machine, one clock
  try {
    const forwarder = TangoForwarder.start({
      node,
      tunName: TUN_NAME,
      paths: topology.paths.map((p) => ({ pathId: p.pathId, interface: p.interface })),
      ...classesFor(topology.paths.length),
      netns: topology.namespaces[ours],
    });
    return { node, forwarder };
  } catch (error) {
    node.close();
    throw error;
  }
}

/** Runs one simulation; throws (after cleaning up) on failure or abort. */
export async function runSimulation(o: SimulationOptions): Promise<SimulationResult> {
  const log = o.log ?? (() => {});
  const signal = o.signal;
  const topology = planTopology(o.paths.length);
  const relays: ImpairmentRelay[] = [];
  const nodes: TangoNode[] = [];
  const forwarders: TangoForwarder[] = [];
  const captures: PathCapture[] = [];
  let sink: TrafficSink | undefined;
  let sender: ReturnType<typeof sendTraffic> | undefined;
  const captureDir = o.write
    ? mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-sim-'))
    : undefined;
  // A crash between here and `finally` must not leave namespaces behind.
  const onExit = () => destroyTopology(topology);
  process.once('exit', onExit);
  try {
    buildTopology(topology);
    log(`topology ${topology.id}: ${Object.values(topology.namespaces).join(', ')}`);
    const seed = randomBytes(8).readBigUInt64BE();
    o.paths.forEach((imp, i) => {
      const p = topology.paths[i]!;
      const impairment = {
        delayMs: imp.delayMs,
        loss: imp.loss,
        reorder: imp.reorder,
        reorderDelayMs: reorderDelayMs(o.rate),
      };
      relays.push(
        ImpairmentRelay.start({
          netns: topology.namespaces.relay,
          interfaceA: p.relayA,
          interfaceB: p.relayB,
          aToB: impairment,
          bToA: impairment,
          seed: seed ^ BigInt(i),
        }),
      );
    });
    const key = deriveEpochKey(randomBytes(32), EPOCH);
    for (const side of [0, 1] as const) {
      const { node, forwarder } = startNode(topology, side, key);
      nodes.push(node);
      forwarders.push(forwarder);
      routeSiteIntoTunnel(topology, side);
    }
    if (captureDir) {
      for (const p of topology.paths) {
        captures.push(
          await startPathCapture(
            topology.namespaces.relay,
            p.relayB,
            captureFileFor(captureDir, p.pathId),
          ),
        );
      }
    }
    signal?.throwIfAborted();
    sink = await startSink(topology.namespaces.host2, HOST2_ADDRESS, o.paths.length);
    log(`sending ${o.rate} datagrams/s on each of ${o.paths.length} paths for ${o.seconds} s`);
    sender = sendTraffic(
      topology.namespaces.host1,
      HOST2_ADDRESS,
      o.paths.length,
      o.rate,
      o.seconds,
      signal,
    );
    await sender.done;
    // Frames still in the relay: the longest delay plus a held-back frame's extra, and slack.
    const drainMs = Math.max(...o.paths.map((p) => p.delayMs)) + reorderDelayMs(o.rate) + 300;
    await sleep(drainMs, undefined, { signal });
    for (const [side, f] of forwarders.entries()) {
      const status = f.stats();
      if (!status.running)
        throw new Error(`the tango${side + 1} forwarder stopped: ${status.error}`);
    }
    const forwarder2 = forwarders[1]!;
    const stats = topology.paths.map((p) => forwarder2.pathStats(p.pathId));
    const relayed = relays.map((r) => r.stats().a_to_b);
    const delivered = await sink.finish();
    if (o.write) {
      const frames = await finishCaptures(captures.splice(0), o.write);
      log(`wrote ${frames} frames to ${o.write}`);
    }
    return {
      paths: o.paths.map((imp, i) => ({
        path_id: topology.paths[i]!.pathId,
        injected: { delay_ms: imp.delayMs, loss: imp.loss, reorder: imp.reorder },
        measured: measuredOf(stats[i]!, delivered[i] ?? 0),
        relay: {
          received: relayed[i]!.received,
          dropped_loss: relayed[i]!.dropped_loss,
          reordered: relayed[i]!.reordered,
          forwarded: relayed[i]!.forwarded,
        },
      })),
    };
  } finally {
    for (const child of [sender?.child, sink?.child, ...captures.map((c) => c.child)]) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const f of forwarders) await f.stop();
    for (const n of nodes) n.close();
    for (const r of relays) r.stop();
    destroyTopology(topology);
    process.off('exit', onExit);
    if (captureDir) rmSync(captureDir, { recursive: true, force: true });
  }
}
