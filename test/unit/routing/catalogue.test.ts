import { describe, expect, it } from 'vitest';
import { rankModels } from '../../../functions/routing/catalogue.js';
import { DEFAULT_MAPPINGS } from '../../../functions/routing/mappings.js';
import { NoRouteError } from '../../../functions/routing/router.js';
import { mappingsWith, route } from './helpers.js';

const CLOUD = new Set(
  DEFAULT_MAPPINGS.models.filter((m) => m.locality === 'cloud').map((m) => m.name),
);
const PRIVATE_QUERY = 'Summarise the confidential patient record for me';

const withModels = (update: (name: string) => { enabled?: boolean }) =>
  mappingsWith({ models: DEFAULT_MAPPINGS.models.map((m) => ({ ...m, ...update(m.name) })) });

describe('model ranking', () => {
  it('routes the seed example to phi3-local at medium priority', () => {
    const { decision } = route('Write a Python function to calculate factorial', {
      priority: 'medium',
    });
    expect(decision.workload_type).toBe('code_generation');
    expect(decision.selected_model).toBe('phi3-local');
    expect(decision.endpoint).toBe('127.0.0.1');
    expect(decision.reasons.some((r) => r.startsWith('phi3-local chosen'))).toBe(true);
  });

  it('ranks code_generation candidates by the medium-priority score', () => {
    const { ranked } = rankModels(DEFAULT_MAPPINGS.models, 'code_generation', 'medium');
    // quality*4 - latency/100 - cost: phi3 18.5, claude 11, gpt-4 -6; llama lacks the strength.
    expect(ranked.map((r) => [r.model.name, r.score])).toEqual([
      ['phi3-local', 18.5],
      ['claude-3', 11],
      ['gpt-4', -6],
    ]);
  });

  it('picks a cloud model for high-priority complex reasoning', () => {
    const query =
      'Analyze the trade-offs of this strategy step by step and explain why, in depth, with a proof';
    const { decision } = route(query, { priority: 'high' });
    expect(decision.workload_type).toBe('complex_reasoning');
    expect(CLOUD.has(decision.selected_model)).toBe(true);
    expect(decision.selected_model).toBe('claude-3');
    expect(decision.endpoint).toBe('192.168.2.100');
  });

  it('never picks a cloud model for local_private, whatever the priority', () => {
    for (const priority of ['low', 'medium', 'high'] as const) {
      const { decision } = route(PRIVATE_QUERY, { priority });
      expect(decision.workload_type).toBe('local_private');
      expect(CLOUD.has(decision.selected_model)).toBe(false);
    }
    const { ranked, reasons } = rankModels(DEFAULT_MAPPINGS.models, 'local_private', 'high');
    expect(ranked.every((r) => r.model.locality === 'local')).toBe(true);
    expect(reasons).toContain('only local models may serve local_private workloads');
  });

  it('throws NoRouteError for local_private when every local model is disabled', () => {
    const mappings = withModels((name) => (CLOUD.has(name) ? {} : { enabled: false }));
    expect(() => route(PRIVATE_QUERY, { priority: 'high', ctx: { mappings } })).toThrow(
      NoRouteError,
    );
    // The same catalogue still serves non-private work from the cloud.
    const { decision } = route('What is DNS?', { ctx: { mappings } });
    expect(CLOUD.has(decision.selected_model)).toBe(true);
  });

  it('skips disabled models', () => {
    const mappings = withModels((name) => (name === 'phi3-local' ? { enabled: false } : {}));
    const { decision } = route('Write a Python function to calculate factorial', {
      ctx: { mappings },
    });
    expect(decision.selected_model).toBe('claude-3');
    const { ranked } = rankModels(mappings.models, 'code_generation', 'medium');
    expect(ranked.map((r) => r.model.name)).not.toContain('phi3-local');
  });

  it('falls back to all enabled models when none lists the workload as a strength', () => {
    const { ranked, reasons } = rankModels(
      DEFAULT_MAPPINGS.models.filter((m) => !m.strengths.includes('fast_response')),
      'fast_response',
      'low',
    );
    expect(ranked.map((r) => r.model.name).sort()).toEqual(['claude-3', 'gpt-4']);
    expect(reasons[0]).toMatch(/no model lists fast_response/);
  });

  it('skips a model whose RLOCs are all unusable and explains why', () => {
    const mappings = mappingsWith({
      eid_prefixes: DEFAULT_MAPPINGS.eid_prefixes.map((p) =>
        p.prefix === '10.4.0.0/16'
          ? { ...p, locators: p.locators.map((l) => ({ ...l, reachable: false })) }
          : p,
      ),
    });
    const { decision } = route('Write a Python function to calculate factorial', {
      ctx: { mappings },
    });
    expect(decision.selected_model).toBe('claude-3');
    expect(decision.reasons).toContain('phi3-local skipped: no usable RLOC for EID 10.4.0.101');
  });
});
