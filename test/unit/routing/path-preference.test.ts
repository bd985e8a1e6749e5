import { describe, expect, it } from 'vitest';
import { selectLocator } from '../../../functions/routing/map-cache.js';
import type { Locator } from '../../../functions/routing/mappings.js';
import {
  indexFreshPaths,
  isPathsStale,
  type PathsReport,
  preferByPath,
} from '../../../functions/routing/path-preference.js';
import { tangoPath } from '../../helpers/tango-paths.js';
import { mappingsWith, route } from './helpers.js';

const NOW = 1_767_300_100;
const A = '198.51.100.7';
const B = '203.0.113.9';
const C = '192.0.2.44';

const locator = (rloc: string, priority = 1, weight = 50): Locator => ({
  rloc,
  priority,
  weight,
  reachable: true,
});

/** A report received `ageSec` ago with a 5 s interval. */
const report = (agentId: string, ageSec: number, paths: PathsReport['paths']): PathsReport => ({
  agent_id: agentId,
  interval_s: 5,
  received_at: NOW - ageSec,
  paths,
});

const tierOf = (...rlocs: string[]) =>
  rlocs.map((rloc, index) => ({ locator: locator(rloc), index }));

describe('indexFreshPaths', () => {
  it('indexes every fresh path by its peer RLOC and leaves stale reports out', () => {
    const index = indexFreshPaths(
      [
        report('site-a', 2, [tangoPath(0, { peer_rloc: A }), tangoPath(1, { peer_rloc: B })]),
        report('site-c', 14, [tangoPath(3, { peer_rloc: A })]),
        report('site-old', 16, [tangoPath(5, { peer_rloc: C })]),
      ],
      NOW,
    );
    expect([...index.keys()].sort()).toEqual([A, B]);
    expect(index.get(A)?.map((o) => `${o.agentId}/${o.pathId}`)).toEqual(['site-a/0', 'site-c/3']);
  });

  it('calls a report stale past three of its intervals, judged by arrival time', () => {
    expect(isPathsStale({ received_at: NOW - 15, interval_s: 5 }, NOW)).toBe(false);
    expect(isPathsStale({ received_at: NOW - 15.5, interval_s: 5 }, NOW)).toBe(true);
    // A report from "the future" (clock step) is age 0, not negative.
    expect(isPathsStale({ received_at: NOW + 100, interval_s: 5 }, NOW)).toBe(false);
  });
});

describe('preferByPath', () => {
  const measured = indexFreshPaths(
    [
      report('site-a', 1, [
        tangoPath(0, { peer_rloc: A, delay_ms: 40, loss: 0 }),
        tangoPath(2, { peer_rloc: B, delay_ms: 12.4, loss: 0.05 }),
        tangoPath(3, { peer_rloc: B, delay_ms: 30, loss: 0.02 }),
      ]),
    ],
    NOW,
  );

  it('keeps the RLOC with the lowest-delay path for fast_response, and says so', () => {
    const pref = preferByPath(tierOf(A, B), 'fast_response', measured);
    expect(pref?.keep).toEqual(new Set([1]));
    expect(pref?.reason).toBe(
      `tango path 2 to ${B}: 12.4 ms, lowest delay among 2 RLOCs of priority 1 (fast_response; others: ${A} 40.0 ms)`,
    );
  });

  it('keeps the RLOC with the lowest-loss path for code and reasoning workloads', () => {
    for (const workload of ['code_generation', 'complex_reasoning'] as const) {
      const pref = preferByPath(tierOf(A, B), workload, measured);
      expect(pref?.keep).toEqual(new Set([0]));
      expect(pref?.reason).toContain(`tango path 0 to ${A}: 0.00 % loss, lowest loss`);
      // B's best path for loss is path 3 (2 %), not path 2.
      expect(pref?.reason).toContain(`others: ${B} 2.00 % loss`);
    }
  });

  it('says nothing for workloads without a criterion, one RLOC, or no measurements', () => {
    expect(preferByPath(tierOf(A, B), 'general', measured)).toBeUndefined();
    expect(preferByPath(tierOf(A, B), 'local_private', measured)).toBeUndefined();
    expect(preferByPath(tierOf(B), 'fast_response', measured)).toBeUndefined();
    expect(preferByPath(tierOf(A, B), 'fast_response', new Map())).toBeUndefined();
    expect(preferByPath(tierOf(A, B), 'fast_response', undefined)).toBeUndefined();
    expect(preferByPath(tierOf(C, '192.0.2.45'), 'fast_response', measured)).toBeUndefined();
  });

  it('keeps the tier whole when an RLOC has no fresh measurement', () => {
    const pref = preferByPath(tierOf(A, B, C), 'fast_response', measured);
    expect(pref?.keep).toBeUndefined();
    expect(pref?.reason).toBe(`tango paths not compared: no fresh measurement toward ${C}`);
  });

  it('keeps the tier whole when the paths are equal within noise', () => {
    const equal = indexFreshPaths(
      [
        report('s', 1, [
          tangoPath(0, { peer_rloc: A, delay_ms: 20 }),
          tangoPath(1, { peer_rloc: B, delay_ms: 20.3 }),
        ]),
      ],
      NOW,
    );
    const pref = preferByPath(tierOf(A, B), 'fast_response', equal);
    expect(pref?.keep).toBeUndefined();
    expect(pref?.reason).toBe('tango paths equal in delay (20.0 ms) among 2 RLOCs of priority 1');
  });

  it('keeps every RLOC that ties at the best value', () => {
    const tie = indexFreshPaths(
      [
        report('s', 1, [
          tangoPath(0, { peer_rloc: A, delay_ms: 10 }),
          tangoPath(1, { peer_rloc: B, delay_ms: 10.1 }),
          tangoPath(2, { peer_rloc: C, delay_ms: 50 }),
        ]),
      ],
      NOW,
    );
    const pref = preferByPath(tierOf(A, B, C), 'fast_response', tie);
    expect(pref?.keep).toEqual(new Set([0, 1]));
    expect(pref?.reason).toContain(`tango paths to ${A}, ${B} tie at lowest delay (10.0 ms)`);
  });
});

describe('selectLocator with a path preference', () => {
  const locators = [locator(A), locator(B), locator(C, 2)];
  const measured = indexFreshPaths(
    [
      report('s', 1, [
        tangoPath(0, { peer_rloc: A, delay_ms: 40 }),
        tangoPath(1, { peer_rloc: B, delay_ms: 5 }),
      ]),
    ],
    NOW,
  );
  const prefer =
    (workload: 'fast_response' | 'general') => (tier: Parameters<typeof preferByPath>[0]) =>
      preferByPath(tier, workload, measured);

  it('picks the preferred RLOC whatever the flow hash', () => {
    for (let hash = 0; hash < 100; hash++) {
      const choice = selectLocator(locators, hash, prefer('fast_response'));
      expect(choice?.locator.rloc).toBe(B);
      expect(choice?.reason).toMatch(/^tango path 1 to 203\.0\.113\.9: 5\.0 ms, lowest delay/);
    }
  });

  it('splits by weight as before when the workload has no criterion', () => {
    const seen = new Set<string>();
    for (let hash = 0; hash < 100; hash++) {
      const choice = selectLocator(locators, hash, prefer('general'));
      expect(choice).toEqual(selectLocator(locators, hash));
      seen.add(choice!.locator.rloc);
    }
    expect([...seen].sort()).toEqual([A, B]);
  });

  it('never prefers a lower-priority RLOC, however good its path', () => {
    const onlyC = indexFreshPaths(
      [report('s', 1, [tangoPath(0, { peer_rloc: C, delay_ms: 1 })])],
      NOW,
    );
    const choice = selectLocator([locator(A), locator(C, 2)], 7, (tier) =>
      preferByPath(tier, 'fast_response', onlyC),
    );
    expect(choice?.locator.rloc).toBe(A);
  });
});

describe('routeQuery with Tango paths', () => {
  const mappings = mappingsWith({
    eid_prefixes: [
      { prefix: '0.0.0.0/0', locators: [{ rloc: '192.0.2.200', priority: 1, weight: 100 }] },
      {
        prefix: '10.0.0.0/8',
        locators: [
          { rloc: A, priority: 1, weight: 50 },
          { rloc: B, priority: 1, weight: 50 },
        ],
      },
    ],
    models: [
      {
        name: 'site-llm',
        eid: '10.9.0.10',
        locality: 'local',
        strengths: ['fast_response', 'code_generation', 'general'],
        quality: 7,
        latency_ms: 100,
        cost: 0,
      },
    ],
  });
  const paths = indexFreshPaths(
    [
      report('site-a', 1, [
        tangoPath(0, { peer_rloc: A, delay_ms: 40, loss: 0 }),
        tangoPath(2, { peer_rloc: B, delay_ms: 12.4, loss: 0.05 }),
      ]),
    ],
    NOW,
  );

  it('sends a fast_response query to the lower-delay RLOC and a code query to the lower-loss one', () => {
    const fast = route('What is the capital of France?', { ctx: { mappings, paths } }).decision;
    expect(fast.workload_type).toBe('fast_response');
    expect(fast.endpoint).toBe(B);
    expect(fast.reasons.at(-1)).toContain(
      `RLOC ${B} by tango path 2 to ${B}: 12.4 ms, lowest delay among 2 RLOCs of priority 1`,
    );
    const code = route('Write a Python function to sort a list', {
      ctx: { mappings, paths },
    }).decision;
    expect(code.workload_type).toBe('code_generation');
    expect(code.endpoint).toBe(A);
    expect(code.reasons.at(-1)).toContain(`RLOC ${A} by tango path 0 to ${A}: 0.00 % loss`);
  });
});
