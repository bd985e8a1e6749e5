import { describe, expect, it } from 'vitest';
import {
  AGENT_OFFLINE_AFTER_INTERVALS,
  type AgentRecord,
  agentIndexKey,
  agentKey,
  generateAgentPassword,
  hashAgentPassword,
  isOnline,
} from '../../../functions/store/agents.js';
import { commandKey } from '../../../functions/store/commands.js';
import { eventPartition, eventSortKey } from '../../../functions/store/events.js';
import {
  compareFlows,
  FLOW_TTL_DAYS,
  flowExpiry,
  flowKeyRange,
  flowPartition,
  flowSliceKey,
  flowSortKey,
  type StoredFlow,
} from '../../../functions/store/flows.js';
import { flowRecord, heartbeat } from './fixtures.js';

const stored = (n: number, overrides: Partial<StoredFlow> = {}): StoredFlow => ({
  ...flowRecord(n),
  agent_id: 'edge-1',
  ...overrides,
});

describe('flow keys', () => {
  it('are deterministic per record and ordered by last_seen', () => {
    const a = flowRecord(1, { last_seen: 1_767_225_600.000_25 });
    expect(flowSortKey('edge-1', a)).toBe(flowSortKey('edge-1', { ...a }));
    expect(flowSortKey('edge-1', a)).toBe(`001767225600000#edge-1#${a.record_id}`);
    // Another agent reusing the same record id gets its own key.
    expect(flowSortKey('edge-2', a)).not.toBe(flowSortKey('edge-1', a));
    const later = flowRecord(0, { last_seen: 1_767_225_600.001 });
    expect(flowSortKey('edge-1', later) > flowSortKey('edge-1', a)).toBe(true);
    // Fixed width keeps string order equal to time order across digit counts.
    expect(flowSortKey('edge-1', flowRecord(2, { last_seen: 9 })) < flowSortKey('edge-1', a)).toBe(
      true,
    );
    expect(flowPartition('acme')).toBe('FLOWS#acme');
  });

  it('turn since/until into a key range that covers both edges', () => {
    const { low, high } = flowKeyRange(100, 200);
    const inside = [100, 150.5, 200, 200.0009].map((s) =>
      flowSortKey('edge-1', flowRecord(1, { last_seen: s })),
    );
    for (const key of inside) expect(key >= low && key <= high).toBe(true);
    for (const s of [99.999, 200.001]) {
      const key = flowSortKey('edge-1', flowRecord(1, { last_seen: s }));
      expect(key >= low && key <= high).toBe(false);
    }
    const open = flowKeyRange();
    expect(flowSortKey('edge-1', flowRecord(1, { last_seen: 0 })) >= open.low).toBe(true);
    expect(flowSortKey('edge-1', flowRecord(1, { last_seen: 4e9 })) <= open.high).toBe(true);
    const empty = flowKeyRange(300, 200);
    expect(empty.low > empty.high).toBe(true);
  });

  it('expire FLOW_TTL_DAYS after last_seen', () => {
    expect(flowExpiry({ last_seen: 2000.7 }, 1000)).toBe(2000 + FLOW_TTL_DAYS * 86_400);
    // An old replayed flow expires N days after it was stored, not after its packets.
    expect(flowExpiry({ last_seen: 1000.7 }, 5000.2)).toBe(5000 + FLOW_TTL_DAYS * 86_400);
  });

  it('group exports of one flow slice, whatever their end reason', () => {
    const snapshot = stored(1, { state: 'ACTIVE', end_reason: null, record_id: 'a'.repeat(32) });
    const final = stored(1, { last_seen: snapshot.last_seen + 30, end_reason: 'idle' });
    expect(flowSliceKey(snapshot)).toBe(flowSliceKey(final));
    expect(flowSliceKey(stored(2))).not.toBe(flowSliceKey(snapshot));
    expect(flowSliceKey(stored(1, { agent_id: 'edge-2' }))).not.toBe(flowSliceKey(snapshot));
  });

  it('sort by the chosen measure, highest first, with stable ties', () => {
    const flows = [
      stored(1, { packets: 5, bytes: 900, duration_sec: 9 }),
      stored(2, { packets: 50, bytes: 100, duration_sec: 1 }),
      stored(3, { packets: 5, bytes: 500, duration_sec: 3, last_seen: 1e10 }),
    ];
    const ids = (key: 'packets' | 'bytes' | 'duration') =>
      [...flows].sort(compareFlows(key)).map((f) => f.flow_id);
    expect(ids('packets')).toEqual(['f2', 'f3', 'f1']);
    expect(ids('bytes')).toEqual(['f1', 'f3', 'f2']);
    expect(ids('duration')).toEqual(['f1', 'f3', 'f2']);
  });
});

describe('agent keys and passwords', () => {
  it('keep agents global and index them per tenant', () => {
    expect(agentKey('edge-1')).toEqual({ pk: 'AGENT#edge-1', sk: 'META' });
    expect(agentIndexKey('acme', 'edge-1')).toEqual({ pk: 'TENANT#acme', sk: 'AGENT#edge-1' });
    expect(commandKey('edge-1', 'c1')).toEqual({ pk: 'CMDS#edge-1', sk: 'c1' });
    expect(eventPartition('acme', 'edge-1')).toBe('EVENTS#acme#edge-1');
    expect(eventSortKey({ sent_at: 12.5, event_id: 'e1' })).toBe('000000000012500#e1');
  });

  it('generates distinct high-entropy passwords and hashes them with SHA-256', () => {
    const a = generateAgentPassword();
    const b = generateAgentPassword();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^wfa_[A-Za-z0-9_-]{43}$/);
    expect(hashAgentPassword('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('isOnline', () => {
  const agent = (lastSeen: number | null, interval = 30): AgentRecord => ({
    agentId: 'edge-1',
    tenant: 'acme',
    createdAt: '2026-01-01T00:00:00.000Z',
    lastSeen,
    heartbeat: lastSeen === null ? null : { ...heartbeat(lastSeen, { interval_sec: interval }) },
    metrics: null,
    metricsAt: null,
    certificate: null,
    pendingCertificate: null,
    passwordLogin: false,
  });

  it('is true within 3 heartbeat intervals and false after', () => {
    expect(AGENT_OFFLINE_AFTER_INTERVALS).toBe(3);
    expect(isOnline(agent(1000), 1000)).toBe(true);
    expect(isOnline(agent(1000), 1090)).toBe(true);
    expect(isOnline(agent(1000), 1090.5)).toBe(false);
    expect(isOnline(agent(1000, 5), 1016)).toBe(false);
  });

  it('is false for an agent that never sent a heartbeat', () => {
    expect(isOnline(agent(null), 0)).toBe(false);
  });
});
