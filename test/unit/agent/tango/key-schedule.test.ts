import { describe, expect, it } from 'vitest';
import { type KeyedNode, KeySchedule } from '../../../../agent/tango/key-schedule.js';
import { deriveEpochKey } from '../../../../native/tango.js';

const secret = new Uint8Array(32).fill(7);
const HOUR = 3_600_000;

/** Records what the schedule installs, as a TangoNode would receive it. */
function recorder() {
  const calls: string[] = [];
  const keys = new Map<string, Uint8Array>();
  const node: KeyedNode = {
    setSendKey(epoch, key) {
      calls.push(`send ${epoch}`);
      keys.set(`send ${epoch}`, key);
    },
    rotateReceiveKey(epoch, key) {
      calls.push(`receive ${epoch}`);
      keys.set(`receive ${epoch}`, key);
    },
  };
  return { node, calls, keys };
}

describe('KeySchedule', () => {
  it('starts with the previous and current receive epochs and the current send epoch', () => {
    const s = new KeySchedule({ pairSecret: secret });
    const { node, calls, keys } = recorder();
    const now = 500_000 * HOUR + 10 * 60_000;
    const { nextTickMs } = s.tick(node, now);
    expect(calls).toEqual(['receive 499999', 'receive 500000', 'send 500000']);
    expect(keys.get('send 500000')).toEqual(deriveEpochKey(secret, 500_000));
    // Next: receivers take epoch 500001 five seconds before its boundary.
    expect(nextTickMs).toBe(500_001 * HOUR - 5000);
  });

  it('receivers take the next epoch before the boundary, senders after it', () => {
    const s = new KeySchedule({ pairSecret: secret });
    const { node, calls } = recorder();
    const boundary = 42 * HOUR;
    s.tick(node, boundary - 60_000);
    calls.length = 0;
    expect(s.tick(node, boundary - 5000).changed).toEqual(['receive epoch 42']);
    expect(calls).toEqual(['receive 42']);
    // Between the two: the send key stays on 41, which the peer still accepts (grace).
    expect(s.tick(node, boundary + 1000).changed).toEqual([]);
    expect(s.tick(node, boundary + 5000).changed).toEqual(['send epoch 42']);
    expect(s.sendEpochAt(boundary + 4999)).toBe(41);
  });

  it('keeps two nodes whose clocks differ by less than the margin on a shared key', () => {
    const s = new KeySchedule({ pairSecret: secret });
    const boundary = 7 * HOUR;
    for (let t = boundary - 20_000; t <= boundary + 20_000; t += 500) {
      for (const skew of [-4000, 0, 4000]) {
        // What the sender (clock t + skew) signs with is accepted by the receiver (clock t):
        // the receiver's newest epoch or, within the C core's grace, the one before.
        const sent = s.sendEpochAt(t + skew);
        const newest = s.receiveEpochAt(t);
        expect(sent === newest || sent === newest - 1, `t=${t} skew=${skew}`).toBe(true);
      }
    }
  });

  it('catches up after a long pause (a suspended host) one epoch at a time', () => {
    const s = new KeySchedule({ pairSecret: secret, epochSeconds: 60 });
    const { node, calls } = recorder();
    s.tick(node, 10 * 60_000 + 1000);
    calls.length = 0;
    s.tick(node, 13 * 60_000 + 30_000);
    expect(calls).toEqual(['receive 11', 'receive 12', 'receive 13', 'send 13']);
  });

  it('refuses a short secret and an epoch too short for its margins', () => {
    expect(() => new KeySchedule({ pairSecret: new Uint8Array(16) })).toThrow(/at least 32 bytes/);
    expect(() => new KeySchedule({ pairSecret: secret, epochSeconds: 10 })).toThrow(/60/);
    expect(
      () =>
        new KeySchedule({ pairSecret: secret, epochSeconds: 60, leadMs: 20_000, lagMs: 20_000 }),
    ).toThrow(/half an epoch/);
  });
});
