import { describe, expect, it } from 'vitest';
import {
  AGENT_ENTRY_TTL_MINUTES,
  type AgentAnnouncement,
  MAX_LEARNT_PREFIXES,
  mergeAgentLocators,
  rlocLiveness,
} from '../../../functions/routing/agent-locators.js';
import { AgentRoutingView } from '../../../functions/routing/agent-routing.js';
import { MapCache } from '../../../functions/routing/map-cache.js';
import { DEFAULT_MAPPINGS } from '../../../functions/routing/mappings.js';
import { NoRouteError } from '../../../functions/routing/router.js';
import { EDGE_MAPPINGS_INPUT } from '../../helpers/edge-mappings.js';
import { decodeLispFrame, mappingsWith, route } from './helpers.js';

/** Heartbeats every 5 s: offline after 15 s of silence, registration held for 30 s (the floor). */
const agent = (
  agentId: string,
  online: boolean,
  rlocs: string[],
  eidPrefixes: string[] = [],
): AgentAnnouncement => ({
  agentId,
  online,
  silentSec: online ? 1 : 20,
  intervalSec: 5,
  rlocs: rlocs.map((address) => ({ address, priority: 1, weight: 100 })),
  eidPrefixes,
});

const EDGE_MAPPINGS = mappingsWith(EDGE_MAPPINGS_INPUT);

describe('mergeAgentLocators', () => {
  it('returns the mappings object itself when agents change nothing', () => {
    expect(mergeAgentLocators(DEFAULT_MAPPINGS, []).mappings).toBe(DEFAULT_MAPPINGS);
    // An agent whose RLOC is configured and already reachable, announcing no prefixes.
    const same = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('a', true, ['192.168.1.100']),
    ]).mappings;
    expect(same).toBe(DEFAULT_MAPPINGS);
  });

  it('adds announced EID prefixes with the agent RLOCs, reachable while it is online', () => {
    const merged = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-1', true, ['192.0.2.50', '192.0.2.51'], ['10.50.0.0/16']),
    ]).mappings;
    const entry = merged.eid_prefixes.find((e) => e.prefix === '10.50.0.0/16');
    expect(entry).toEqual({
      prefix: '10.50.0.0/16',
      description: 'announced by agent edge-1',
      ttl_minutes: AGENT_ENTRY_TTL_MINUTES,
      locators: [
        { rloc: '192.0.2.50', priority: 1, weight: 100, reachable: true },
        { rloc: '192.0.2.51', priority: 1, weight: 100, reachable: true },
      ],
    });
    // The configured entries are untouched and the input is not mutated.
    expect(merged.eid_prefixes.slice(0, DEFAULT_MAPPINGS.eid_prefixes.length)).toEqual(
      DEFAULT_MAPPINGS.eid_prefixes,
    );
    expect(DEFAULT_MAPPINGS.eid_prefixes.some((e) => e.prefix === '10.50.0.0/16')).toBe(false);

    const offline = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-1', false, ['192.0.2.50'], ['10.50.0.0/16']),
    ]).mappings;
    const down = offline.eid_prefixes.find((e) => e.prefix === '10.50.0.0/16')!;
    expect(down.locators.map((l) => l.reachable)).toEqual([false]);
    expect(new MapCache(1, offline.eid_prefixes).lookup(1, '10.50.3.4')?.prefix.text).toBe(
      '10.50.0.0/16',
    );
  });

  it('ignores announcements broader than /8 and caps what agents can add', () => {
    const broad = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-1', true, ['192.0.2.50'], ['0.0.0.0/0', '8.0.0.0/7', '11.0.0.0/8']),
    ]).mappings;
    const learnt = broad.eid_prefixes.slice(DEFAULT_MAPPINGS.eid_prefixes.length);
    expect(learnt.map((e) => e.prefix)).toEqual(['11.0.0.0/8']);

    const many = Array.from(
      { length: MAX_LEARNT_PREFIXES + 10 },
      (_, i) => `172.${16 + (i >> 8)}.${i & 255}.0/24`,
    );
    const capped = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-1', true, ['192.0.2.50'], many),
    ]).mappings;
    expect(capped.eid_prefixes.length - DEFAULT_MAPPINGS.eid_prefixes.length).toBe(
      MAX_LEARNT_PREFIXES,
    );
  });

  it('lets explicit mappings win for an identical prefix', () => {
    const merged = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-1', true, ['192.0.2.50'], ['10.2.0.0/16', '10.60.0.0/16']),
    ]).mappings;
    const twos = merged.eid_prefixes.filter((e) => e.prefix === '10.2.0.0/16');
    expect(twos).toHaveLength(1);
    expect(twos[0]!.locators.map((l) => l.rloc)).toEqual(['192.168.3.100', '192.168.3.101']);
    expect(merged.eid_prefixes.map((e) => e.prefix)).toContain('10.60.0.0/16');
  });

  it('merges agents announcing the same prefix into one entry, once per RLOC', () => {
    const merged = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('edge-2', false, ['192.0.2.60'], ['10.50.0.0/16']),
      agent('edge-1', true, ['192.0.2.50'], ['10.50.0.0/16', '10.50.0.0/16']),
    ]).mappings;
    const entries = merged.eid_prefixes.filter((e) => e.prefix === '10.50.0.0/16');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.description).toBe('announced by agent edge-1, edge-2');
    expect(entries[0]!.locators.map((l) => [l.rloc, l.reachable])).toEqual([
      ['192.0.2.50', true],
      ['192.0.2.60', false],
    ]);
  });

  it('ignores malformed prefixes and non-IPv4 RLOCs from heartbeats', () => {
    const merged = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('v6', true, ['2001:db8::1'], ['10.70.0.0/16']),
      agent('bad', true, ['192.0.2.9'], ['10.80.0.1/16', 'nonsense', '10.90.0.0/40']),
    ]).mappings;
    expect(merged).toBe(DEFAULT_MAPPINGS);
  });

  it('takes configured locators’ reachability from the agent announcing their address', () => {
    const merged = mergeAgentLocators(DEFAULT_MAPPINGS, [
      agent('site-1', false, ['192.168.1.100']),
      agent('site-2', true, ['192.168.2.100']),
    ]).mappings;
    const general = merged.eid_prefixes.find((e) => e.prefix === '10.1.0.0/16')!;
    expect(general.locators.map((l) => [l.rloc, l.reachable])).toEqual([
      ['192.168.1.100', false],
      ['192.168.2.100', true],
    ]);
    // Entries the agents do not touch keep their identity.
    const fast = merged.eid_prefixes.find((e) => e.prefix === '10.2.0.0/16');
    expect(fast).toBe(DEFAULT_MAPPINGS.eid_prefixes.find((e) => e.prefix === '10.2.0.0/16'));

    // An online agent brings back a locator the mappings marked down.
    const marked = mappingsWith({
      source_locators: [{ rloc: '192.0.2.1', reachable: false }, { rloc: '192.0.2.2' }],
    });
    const up = mergeAgentLocators(marked, [agent('itr', true, ['192.0.2.1'])]).mappings;
    expect(up.source_locators.map((l) => l.reachable)).toEqual([true, true]);
  });

  it('counts an RLOC shared by several agents as alive while any of them is', () => {
    const alive = rlocLiveness([
      agent('a', false, ['192.0.2.1', '192.0.2.2']),
      agent('b', true, ['192.0.2.2']),
    ]);
    expect(Object.fromEntries(alive)).toEqual({ '192.0.2.1': false, '192.0.2.2': true });
  });
});

describe('routing with agent announcements', () => {
  const QUERY = 'Write a Python function to calculate factorial';

  it('routes to the RLOC of the agent announcing the longest matching prefix', () => {
    const base = route(QUERY, { ctx: { mappings: EDGE_MAPPINGS } });
    expect(base.decision.endpoint).toBe('198.51.100.77');

    const mappings = mergeAgentLocators(EDGE_MAPPINGS, [
      agent('edge-1', true, ['192.0.2.50'], ['10.50.0.0/16']),
    ]).mappings;
    const { decision, frame } = route(QUERY, { ctx: { mappings } });
    expect(decision.endpoint).toBe('192.0.2.50');
    expect(decision.lisp_packet.metadata.eid_prefix).toBe('10.50.0.0/16');
    expect(decodeLispFrame(frame).outerIp.header.dst).toBe('192.0.2.50');
  });

  it('never chooses the RLOC of an offline agent: the covering entry takes over', () => {
    const { mappings, registrations } = mergeAgentLocators(EDGE_MAPPINGS, [
      agent('edge-1', false, ['192.0.2.50'], ['10.50.0.0/16']),
    ]);
    const { decision } = route(QUERY, { ctx: { mappings, registrations } });
    expect(decision.endpoint).toBe('198.51.100.77');
    expect(decision.lisp_packet.metadata.eid_prefix).toBe('10.0.0.0/8');
    expect(decision.reasons).toContain(
      '10.50.0.0/16 learnt from agent edge-1 passed over: every locator is down; using configured 10.0.0.0/8',
    );

    // With the covering entry down as well, nothing is left.
    const coverDown = mappingsWith({
      ...EDGE_MAPPINGS_INPUT,
      eid_prefixes: [
        {
          prefix: '10.0.0.0/8',
          locators: [{ rloc: '198.51.100.77', priority: 1, weight: 100, reachable: false }],
        },
      ],
    });
    const nothing = mergeAgentLocators(coverDown, [
      agent('edge-1', false, ['192.0.2.50'], ['10.50.0.0/16']),
    ]).mappings;
    expect(() => route(QUERY, { ctx: { mappings: nothing } })).toThrow(NoRouteError);
  });

  it('clears the LSB of a source locator whose agent is offline', () => {
    const lsbWith = (agents: AgentAnnouncement[]) =>
      decodeLispFrame(
        route(QUERY, { ctx: { mappings: mergeAgentLocators(EDGE_MAPPINGS, agents).mappings } })
          .frame,
      ).lisp.header.lsb;
    expect(lsbWith([])).toBe(0b111);
    expect(lsbWith([agent('itr-2', false, ['192.0.2.2'])])).toBe(0b101);
    expect(lsbWith([agent('itr-2', true, ['192.0.2.2'])])).toBe(0b111);
    const outer = (agents: AgentAnnouncement[]) =>
      Array.from(
        { length: 20 },
        (_, i) =>
          decodeLispFrame(
            route(`${QUERY} ${i}`, {
              ctx: { mappings: mergeAgentLocators(EDGE_MAPPINGS, agents).mappings },
            }).frame,
          ).outerIp.header.src,
      );
    expect(outer([agent('itr-2', false, ['192.0.2.2'])])).not.toContain('192.0.2.2');
  });
});

describe('AgentRoutingView', () => {
  const setup = (load: (tenant: string) => Promise<AgentAnnouncement[]>) => {
    let now = 1_000_000;
    const calls: string[] = [];
    const view = new AgentRoutingView(
      (tenant) => {
        calls.push(tenant);
        return load(tenant);
      },
      { ttlMs: 5_000, now: () => now },
    );
    return { view, calls, advance: (ms: number) => (now += ms) };
  };

  it('reads a tenant’s agents once per TTL and reuses the merged mappings', async () => {
    let online = true;
    const { view, calls, advance } = setup(async () => [
      agent('edge-1', online, ['192.0.2.50'], ['10.50.0.0/16']),
    ]);
    const first = await view.routingFor('t1', DEFAULT_MAPPINGS);
    expect(first.mappings).not.toBe(DEFAULT_MAPPINGS);
    expect(await view.routingFor('t1', DEFAULT_MAPPINGS)).toBe(first);
    await view.routingFor('t2', DEFAULT_MAPPINGS);
    expect(calls).toEqual(['t1', 't2']);

    online = false;
    advance(4_999);
    expect(await view.routingFor('t1', DEFAULT_MAPPINGS)).toBe(first);
    advance(2);
    const later = await view.routingFor('t1', DEFAULT_MAPPINGS);
    expect(calls).toEqual(['t1', 't2', 't1']);
    expect(later.mappings.eid_prefixes.at(-1)!.locators[0]!.reachable).toBe(false);

    // New mappings document: merged again without reading agents again.
    const other = mappingsWith({ source_locators: [{ rloc: '192.0.2.9' }] });
    const merged = await view.routingFor('t1', other);
    expect(merged.mappings.source_locators[0]!.rloc).toBe('192.0.2.9');
    expect(calls).toHaveLength(3);

    view.invalidate('t1');
    await view.routingFor('t1', DEFAULT_MAPPINGS);
    expect(calls).toHaveLength(4);
  });

  it('shares one read between concurrent requests', async () => {
    const { view, calls } = setup(async () => [agent('a', true, ['192.0.2.1'], ['10.9.0.0/16'])]);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => view.routingFor('t', DEFAULT_MAPPINGS)),
    );
    expect(calls).toEqual(['t']);
    expect(new Set(results).size).toBe(1);
  });

  it('fails while it has never read the agents, then serves the last good view', async () => {
    let fail = true;
    const { view, advance } = setup(async () => {
      if (fail) throw new Error('store down');
      return [agent('a', true, ['192.0.2.1'], ['10.9.0.0/16'])];
    });
    await expect(view.routingFor('t', DEFAULT_MAPPINGS)).rejects.toThrow('store down');
    fail = false;
    const good = await view.routingFor('t', DEFAULT_MAPPINGS);
    fail = true;
    advance(10_000);
    expect(await view.routingFor('t', DEFAULT_MAPPINGS)).toBe(good);
  });
});
