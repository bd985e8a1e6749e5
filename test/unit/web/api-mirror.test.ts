import { describe, expect, it } from 'vitest';
import { PRIORITIES as API_PRIORITIES } from '../../../functions/routing/catalogue.js';
import { WORKLOAD_TYPES as API_WORKLOADS } from '../../../functions/routing/workload.js';
import { PRIORITIES, WORKLOAD_TYPES } from '../../../web/src/api/types.js';

// web/ does not import functions/ (it is bundled for the browser), so it restates the API's
// vocabularies; this fails when the two drift apart.
describe('the console restates the API vocabularies exactly', () => {
  it('workload types, in the API order (its tie-break order)', () => {
    expect([...WORKLOAD_TYPES]).toEqual([...API_WORKLOADS]);
  });
  it('priorities', () => {
    expect([...PRIORITIES].sort()).toEqual([...API_PRIORITIES].sort());
  });
});
