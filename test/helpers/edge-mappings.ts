import type { MappingsInput } from '../../functions/routing/mappings.js';

/**
 * A tenant mappings document for the agent-routing tests: one model behind
 * 10.50.0.10, covered by a /8 the mappings send to 198.51.100.77, and three
 * source locators whose liveness agents can announce.
 */
export const EDGE_MAPPINGS_INPUT: MappingsInput = {
  models: [
    {
      name: 'edge-llm',
      eid: '10.50.0.10',
      locality: 'local',
      strengths: ['general', 'code_generation', 'fast_response', 'local_private'],
      quality: 7,
      latency_ms: 100,
      cost: 0,
    },
  ],
  eid_prefixes: [
    { prefix: '10.0.0.0/8', locators: [{ rloc: '198.51.100.77', priority: 1, weight: 100 }] },
  ],
  source_locators: [{ rloc: '192.0.2.1' }, { rloc: '192.0.2.2' }, { rloc: '192.0.2.3' }],
};
