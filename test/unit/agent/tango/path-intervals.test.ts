import { describe, expect, it } from 'vitest';
import { pathInterval, pathsMessage } from '../../../../agent/tango/path-intervals.js';
import { tangoPathsSchema } from '../../../../protocol/tango-paths.js';
import { pathStats } from '../../../helpers/tango-stats.js';

const stats = pathStats;

describe('pathInterval', () => {
  it('takes the interval’s delay, loss, reorder and throughput from counter differences', () => {
    const before = stats({
      rx_packets: 1000,
      rx_expected: 1000,
      rx_bytes: 1e6,
      delay_samples: 1000,
      delay_sum_ns: 5e9,
    });
    const after = stats({
      rx_packets: 1900,
      rx_expected: 2000,
      rx_lost: 100,
      rx_reordered: 9,
      rx_bytes: 1e6 + 900 * 1000,
      delay_samples: 1900,
      delay_sum_ns: 5e9 + 900 * 20e6,
      jitter_ns: 1.5e6,
      rejects: { ...stats({}).rejects, replay: 3 },
    });
    const i = pathInterval(2, before, after, 2);
    expect(i).toEqual({
      pathId: 2,
      packets: 900,
      delayMs: 20,
      jitterMs: 1.5,
      loss: 0.1,
      reorder: 0.01,
      throughputBps: 3_600_000,
      rejects: { replay: 3 },
    });
  });

  it('reports a silent interval as no packets, not as a perfect path', () => {
    const s = stats({ rx_packets: 5, rx_expected: 5, delay_samples: 5, delay_sum_ns: 5e6 });
    expect(pathInterval(0, s, s, 1)).toMatchObject({ packets: 0, loss: 0, delayMs: 0 });
  });
});

describe('pathsMessage', () => {
  it('builds a message the cloud’s schema accepts, one entry per measured path', () => {
    const i = pathInterval(
      1,
      stats({}),
      stats({ rx_packets: 10, rx_expected: 10, rx_bytes: 1000 }),
      1,
    );
    const message = pathsMessage({
      sentAtMs: 1_796_000_000_000,
      seconds: 1,
      peer: { agent_id: 'edge-2' },
      endpoints: [
        {
          pathId: 1,
          localAddress: 'fd00:1::1',
          peerAddress: 'fd00:1::2',
          peerRloc: '198.51.100.7',
        },
        { pathId: 2, localAddress: 'fd00:2::1', peerAddress: 'fd00:2::2', peerRloc: '203.0.113.9' },
      ],
      intervals: [i],
    });
    expect(tangoPathsSchema.parse(message)).toEqual(message);
    expect(message.paths).toEqual([
      {
        path_id: 1,
        local_address: 'fd00:1::1',
        peer_address: 'fd00:1::2',
        peer_rloc: '198.51.100.7',
        delay_ms: 0,
        jitter_ms: 0,
        loss: 0,
        reorder: 0,
        packets: 10,
        throughput_bps: 8000,
      },
    ]);
  });
});
