import { describe, expect, it } from 'vitest';
import type { PathsReport } from '../../../functions/routing/path-preference.js';
import { TangoPathsView } from '../../../functions/routing/tango-paths-view.js';
import { tangoPath } from '../../helpers/tango-paths.js';

const T0 = 1_767_300_000_000;

describe('TangoPathsView', () => {
  it('reads a tenant once per TTL and judges freshness on every call', async () => {
    let clock = T0;
    const reads: string[] = [];
    const reports: PathsReport[] = [
      { agent_id: 'a', interval_s: 5, received_at: T0 / 1000, paths: [tangoPath(0)] },
    ];
    const view = new TangoPathsView(
      async (tenant) => {
        reads.push(tenant);
        return reports;
      },
      { ttlMs: 5_000, now: () => clock },
    );
    const [first, second] = await Promise.all([view.pathsFor('t'), view.pathsFor('t')]);
    expect(reads).toEqual(['t']);
    expect(first.get('198.51.100.7')).toHaveLength(1);
    expect(second.get('198.51.100.7')).toHaveLength(1);

    clock += 4_000;
    await view.pathsFor('t');
    expect(reads).toEqual(['t']);

    // Past the TTL: read again; past 3 intervals of 5 s: the report no longer counts.
    clock += 12_000;
    expect((await view.pathsFor('t')).size).toBe(0);
    expect(reads).toEqual(['t', 't']);
  });

  it('rejects when the store cannot be read, and reads again on the next call', async () => {
    let fail = true;
    const view = new TangoPathsView(async () => {
      if (fail) throw new Error('store down');
      return [];
    });
    await expect(view.pathsFor('t')).rejects.toThrow('store down');
    fail = false;
    expect((await view.pathsFor('t')).size).toBe(0);
  });
});
