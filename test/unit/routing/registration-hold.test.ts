import { describe, expect, it } from 'vitest';
import { agentAnnouncements } from '../../../functions/api/deps.js';
import {
  MAX_REGISTRATION_HOLD_SEC,
  MIN_REGISTRATION_HOLD_SEC,
  mergeAgentLocators,
  registrationHoldSec,
} from '../../../functions/routing/agent-locators.js';
import { AgentRoutingView } from '../../../functions/routing/agent-routing.js';
import type { AgentRecord } from '../../../functions/store/agents.js';
import { heartbeatSchema } from '../../../protocol/agent-messages.js';
import { mappingsWith, route } from './helpers.js';

/**
 * The site: a private model at 10.4.0.100 inside the configured
 * aggregate 10.4.0.0/16 (RLOC 127.0.0.1); an agent registers 10.4.0.0/24
 * behind its own RLOC with its heartbeats.
 */
const SITE_MAPPINGS = {
  models: [
    {
      name: 'private-llm',
      eid: '10.4.0.100',
      locality: 'local' as const,
      strengths: ['local_private' as const, 'general' as const],
      quality: 6,
      latency_ms: 300,
      cost: 0,
    },
  ],
  eid_prefixes: [
    { prefix: '10.4.0.0/16', locators: [{ rloc: '127.0.0.1', priority: 1, weight: 100 }] },
  ],
  source_locators: [{ rloc: '192.0.2.1' }],
};
const PRIVATE_QUERY = 'Summarize this confidential patient record';
const VIEW_TTL_MS = 5_000;

/**
 * The registry as routing reads it: each agent's latest heartbeat and when it
 * arrived (the fields agentAnnouncements and isOnline look at).
 */
function registry() {
  const agents = new Map<string, Pick<AgentRecord, 'agentId' | 'lastSeen' | 'heartbeat'>>();
  return {
    list: async () => [...agents.values()] as AgentRecord[],
    beat(agentId: string, atSec: number, intervalSec: number, rloc: string, prefixes: string[]) {
      const { schema: _schema, ...heartbeat } = heartbeatSchema.parse({
        schema: 'wirefleet.heartbeat/1',
        sent_at: atSec,
        version: '0.3.1',
        uptime_sec: 1,
        interval_sec: intervalSec,
        backend: 'afpacket',
        capture: { running: true, interface: 'eth0' },
        rlocs: [{ address: rloc, priority: 1, weight: 100 }],
        eid_prefixes: prefixes,
      });
      agents.set(agentId, { agentId, lastSeen: atSec, heartbeat });
    },
  };
}

/** The real routing view over the real announcement loader, on a clock the test moves. */
function site() {
  let nowMs = 1_800_000_000_000;
  const agents = registry();
  const view = new AgentRoutingView(
    agentAnnouncements(agents, () => nowMs),
    { ttlMs: VIEW_TTL_MS, now: () => nowMs },
  );
  const mappings = mappingsWith(SITE_MAPPINGS);
  return {
    agents,
    /** Moves the clock to `sec` seconds after the start; every step is longer than the view's TTL. */
    at: (sec: number) => {
      nowMs = 1_800_000_000_000 + sec * 1000;
    },
    start: 1_800_000_000,
    async route() {
      const { mappings: merged, registrations } = await view.routingFor('t', mappings);
      return route(PRIVATE_QUERY, { ctx: { mappings: merged, registrations } }).decision;
    },
  };
}

describe('registrationHoldSec', () => {
  it('is three announced intervals, at least 30 s and at most 600 s', () => {
    expect(MIN_REGISTRATION_HOLD_SEC).toBe(30);
    expect(MAX_REGISTRATION_HOLD_SEC).toBe(600);
    expect(registrationHoldSec(1)).toBe(30);
    expect(registrationHoldSec(10)).toBe(30);
    expect(registrationHoldSec(30)).toBe(90);
    expect(registrationHoldSec(200)).toBe(600);
    expect(registrationHoldSec(3600)).toBe(600);
  });
});

describe('a site that goes quiet (routing view, injectable clock)', () => {
  it('announce, take over, go quiet, withdraw, fall back, come back', async () => {
    const s = site();
    // No agent yet: the configured aggregate.
    expect((await s.route()).endpoint).toBe('127.0.0.1');

    // Announce: heartbeats every 10 s → hold max(30, 30) = 30 s.
    s.agents.beat('edge-4', s.start, 10, '192.0.2.50', ['10.4.0.0/24']);
    s.at(6);
    const taken = await s.route();
    expect(taken.endpoint).toBe('192.0.2.50');
    expect(taken.lisp_packet.metadata.eid_prefix).toBe('10.4.0.0/24');
    expect(taken.reasons.join('\n')).not.toMatch(/withdrawn|passed over/);

    // Quiet for 25 s: still inside 3 intervals, so the site still counts as up.
    s.at(25);
    expect((await s.route()).endpoint).toBe('192.0.2.50');

    // Quiet for 95 s: the registration expired, the /24 is withdrawn, the /16 takes over.
    s.at(95);
    const fallen = await s.route();
    expect(fallen.endpoint).toBe('127.0.0.1');
    expect(fallen.lisp_packet.metadata.eid_prefix).toBe('10.4.0.0/16');
    expect(fallen.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-4 withdrawn: no heartbeat for 95 s (hold 30 s); using configured 10.4.0.0/16',
    );

    // Come back: one heartbeat and the next read of the agents brings the /24 back.
    s.agents.beat('edge-4', s.start + 100, 10, '192.0.2.50', ['10.4.0.0/24']);
    s.at(101);
    const back = await s.route();
    expect(back.endpoint).toBe('192.0.2.50');
    expect(back.reasons.join('\n')).not.toMatch(/withdrawn|passed over/);
  });

  it('between offline and the hold time, the down /24 does not shadow the /16', async () => {
    const s = site();
    // Heartbeats every 2 s: offline after 6 s, but held for the 30 s floor.
    s.agents.beat('edge-4', s.start, 2, '192.0.2.50', ['10.4.0.0/24']);
    s.at(1);
    expect((await s.route()).endpoint).toBe('192.0.2.50');

    s.at(12);
    const down = await s.route();
    expect(down.endpoint).toBe('127.0.0.1');
    expect(down.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-4 passed over: every locator is down; using configured 10.4.0.0/16',
    );

    s.at(31);
    const withdrawn = await s.route();
    expect(withdrawn.endpoint).toBe('127.0.0.1');
    expect(withdrawn.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-4 withdrawn: no heartbeat for 31 s (hold 30 s); using configured 10.4.0.0/16',
    );
  });

  it('withdraws at the 600 s ceiling even while a slow agent still counts as online', async () => {
    const s = site();
    // Hourly heartbeats: online for 3 hours, but the registration lasts 10 minutes.
    s.agents.beat('slow', s.start, 3600, '192.0.2.70', ['10.4.0.0/24']);
    s.at(599);
    expect((await s.route()).endpoint).toBe('192.0.2.70');
    s.at(606);
    const after = await s.route();
    expect(after.endpoint).toBe('127.0.0.1');
    expect(after.reasons).toContain(
      '10.4.0.0/24 learnt from agent slow withdrawn: no heartbeat for 606 s (hold 600 s); using configured 10.4.0.0/16',
    );
  });

  it('keeps a prefix another agent still holds, without the silent agent’s locator', async () => {
    const s = site();
    s.agents.beat('edge-a', s.start, 10, '192.0.2.50', ['10.4.0.0/24']);
    s.agents.beat('edge-b', s.start, 10, '192.0.2.51', ['10.4.0.0/24']);
    s.at(60);
    s.agents.beat('edge-b', s.start + 60, 10, '192.0.2.51', ['10.4.0.0/24']);
    const decision = await s.route();
    expect(decision.endpoint).toBe('192.0.2.51');
    expect(decision.lisp_packet.metadata.eid_prefix).toBe('10.4.0.0/24');
    expect(decision.reasons.join('\n')).not.toMatch(/withdrawn/);
  });
});

describe('mergeAgentLocators registrations', () => {
  it('reports learnt prefixes with their agents and withdrawn ones with silence and hold', () => {
    const base = mappingsWith(SITE_MAPPINGS);
    const { mappings, registrations } = mergeAgentLocators(base, [
      {
        agentId: 'live',
        online: true,
        silentSec: 3,
        intervalSec: 10,
        rlocs: [{ address: '192.0.2.50', priority: 1, weight: 100 }],
        eidPrefixes: ['10.4.1.0/24', '10.4.0.0/16'],
      },
      {
        agentId: 'gone',
        online: false,
        silentSec: 400.7,
        intervalSec: 60,
        rlocs: [{ address: '192.0.2.60', priority: 1, weight: 100 }],
        eidPrefixes: ['10.4.2.0/24', '10.4.1.0/24', 'nonsense'],
      },
    ]);
    // The configured /16 is never learnt nor withdrawn; 10.4.1.0/24 is still held by "live".
    expect([...registrations.learnt]).toEqual([['10.4.1.0/24', ['live']]]);
    expect(registrations.withdrawn).toEqual([
      {
        prefix: expect.objectContaining({ text: '10.4.2.0/24', length: 24 }),
        agents: [{ agentId: 'gone', silentSec: 400, holdSec: 180 }],
      },
    ]);
    expect(mappings.eid_prefixes.map((e) => e.prefix)).toEqual(['10.4.0.0/16', '10.4.1.0/24']);
    expect(mappings.eid_prefixes[1]!.locators.map((l) => l.rloc)).toEqual(['192.0.2.50']);
  });
});
