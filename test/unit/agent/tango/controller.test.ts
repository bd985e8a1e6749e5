import { describe, expect, it } from 'vitest';
import { TangoController } from '../../../../agent/tango/controller.js';
import { KeySchedule } from '../../../../agent/tango/key-schedule.js';
import { Steering } from '../../../../agent/tango/steering.js';
import type { TangoPathsMessage } from '../../../../protocol/tango-paths.js';
import { pathStats } from '../../../helpers/tango-stats.js';

// The control loop's decisions, with the node's counters scripted (a stand-in for the C node,
// so the test needs no root and no network); the forwarder and the native node are exercised for
// real in test/integration/tango-*.test.ts.

const zero = () => pathStats();

/** A node whose paths receive `perTick` packets each interval at the given delay and loss. */
function scriptedNode(paths: number[]) {
  const stats = new Map(paths.map((p) => [p, zero()]));
  const keys: string[] = [];
  return {
    keys,
    advance(pathId: number, packets: number, delayMs: number, loss = 0) {
      const s = stats.get(pathId)!;
      const expected = Math.round(packets / (1 - loss));
      stats.set(pathId, {
        ...s,
        rx_packets: s.rx_packets + packets,
        rx_bytes: s.rx_bytes + packets * 100,
        rx_expected: s.rx_expected + expected,
        rx_lost: s.rx_lost + (expected - packets),
        delay_samples: s.delay_samples + packets,
        delay_sum_ns: s.delay_sum_ns + packets * delayMs * 1e6,
      });
    },
    node: {
      pathStats: (pathId: number) => ({ ...stats.get(pathId)! }),
      setSendKey: (epoch: number) => keys.push(`send ${epoch}`),
      rotateReceiveKey: (epoch: number) => keys.push(`receive ${epoch}`),
    },
  };
}

describe('TangoController', () => {
  const endpoints = [0, 1].map((pathId) => ({
    pathId,
    localAddress: `fd00:${pathId}::1`,
    peerAddress: `fd00:${pathId}::2`,
    peerRloc: `198.51.100.${pathId + 1}`,
  }));

  function setup() {
    const script = scriptedNode([0, 1]);
    const updates: Array<[number, number]> = [];
    const published: TangoPathsMessage[] = [];
    let now = 1_796_000_000_000;
    const controller = new TangoController({
      node: script.node,
      forwarder: { sendRouteUpdate: (c, p) => updates.push([c, p]) },
      keys: new KeySchedule({ pairSecret: new Uint8Array(32).fill(1) }),
      steering: new Steering([{ classId: 3, maxDelayMs: 30, goal: 'delay' }]),
      initialPaths: new Map([[3, 0]]),
      endpoints,
      peer: { agent_id: 'edge-2' },
      intervalMs: 1000,
      reportIntervalMs: 10_000,
      publish: (m) => published.push(m),
      now: () => now,
    });
    /** One interval in which each [path, packets, delay ms, loss?] arrives. */
    const step = (arrivals: Array<[number, number, number, number?]>) => {
      for (const [pathId, packets, delayMs, loss] of arrivals) {
        script.advance(pathId, packets, delayMs, loss);
      }
      now += 1000;
      return controller.tick(now);
    };
    return { script, controller, updates, published, step, start: () => controller.tick(now) };
  }

  it('installs keys and announces the starting paths before any interval', () => {
    const { script, updates, start } = setup();
    expect(start()).toEqual([]);
    expect(script.keys).toEqual(['receive 498887', 'receive 498888', 'send 498888']);
    expect(updates).toEqual([[3, 0]]);
  });

  it('moves a class when its path breaks its bound, and tells the peer every interval after', () => {
    const { controller, updates, step, start } = setup();
    start();
    expect(
      step([
        [0, 100, 20],
        [1, 100, 10],
      ]),
    ).toEqual([]);
    expect(
      step([
        [0, 100, 45],
        [1, 100, 10],
      ]),
    ).toEqual([]);
    const [move] = step([
      [0, 100, 50],
      [1, 100, 10],
    ]);
    expect(move).toMatchObject({ classId: 3, from: 0, to: 1 });
    step([
      [0, 100, 50],
      [1, 100, 10],
    ]);
    expect(updates.slice(-3)).toEqual([
      [3, 0],
      [3, 1],
      [3, 1],
    ]);
    expect(controller.status()).toMatchObject({ requested: { 3: 1 }, decisions: 1 });
  });

  it('publishes one paths message per report interval, over that interval', () => {
    const { published, step, start } = setup();
    start();
    for (let i = 0; i < 10; i++)
      step([
        [0, 50, 12, 0.5],
        [1, 10, 8],
      ]);
    expect(published).toHaveLength(1);
    const [message] = published;
    expect(message!.interval_s).toBe(10);
    expect(message!.paths.map((p) => [p.path_id, p.packets, p.delay_ms, p.loss])).toEqual([
      [0, 500, 12, 0.5],
      [1, 100, 8, 0],
    ]);
    expect(message!.paths[1]!.throughput_bps).toBe((100 * 100 * 8) / 10);
  });
});
