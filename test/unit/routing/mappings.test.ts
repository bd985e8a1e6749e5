import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAPPINGS,
  describeIssues,
  type MappingsInput,
  mappingsSchema,
} from '../../../functions/routing/mappings.js';

type Doc = MappingsInput & Record<string, unknown>;
const base = (): Doc => structuredClone(DEFAULT_MAPPINGS) as Doc;

/** Parses `doc`; returns the issue paths ("a.0.b") and messages, or [] when valid. */
function issues(doc: unknown) {
  const result = mappingsSchema.safeParse(doc);
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function expectRejected(doc: unknown, path: string, message?: RegExp) {
  const found = issues(doc);
  expect(found.map((i) => i.path)).toContain(path);
  if (message) expect(found.find((i) => i.path === path)?.message).toMatch(message);
}

describe('mappingsSchema', () => {
  it('accepts DEFAULT_MAPPINGS and round-trips it unchanged', () => {
    expect(issues(DEFAULT_MAPPINGS)).toEqual([]);
    expect(mappingsSchema.parse(JSON.parse(JSON.stringify(DEFAULT_MAPPINGS)))).toEqual(
      DEFAULT_MAPPINGS,
    );
    expect(DEFAULT_MAPPINGS.models.map((m) => m.name)).toEqual([
      'gpt-4',
      'claude-3',
      'llama3.2-local',
      'phi3-local',
    ]);
  });

  it('fills defaults: reachable, service_port, enabled, ttl', () => {
    const parsed = mappingsSchema.parse({
      models: [
        {
          name: 'm',
          eid: '10.9.0.1',
          locality: 'local',
          strengths: [],
          quality: 5,
          latency_ms: 1,
          cost: 0,
        },
      ],
      eid_prefixes: [
        { prefix: '10.9.0.0/16', locators: [{ rloc: '192.0.2.1', priority: 1, weight: 1 }] },
      ],
      source_locators: [{ rloc: '192.0.2.9' }],
    });
    expect(parsed.models[0]).toMatchObject({ service_port: 8080, enabled: true });
    expect(parsed.eid_prefixes[0]).toMatchObject({ ttl_minutes: 1440, description: '' });
    expect(parsed.eid_prefixes[0]!.locators[0]!.reachable).toBe(true);
    expect(parsed.source_locators[0]!.reachable).toBe(true);
  });

  it.each([256, -1, 1.5])('rejects locator priority %d', (priority) => {
    const doc = base();
    doc.eid_prefixes[0]!.locators[0]!.priority = priority;
    expectRejected(doc, 'eid_prefixes.0.locators.0.priority');
  });

  it.each([-1, 256])('rejects locator weight %d', (weight) => {
    const doc = base();
    doc.eid_prefixes[1]!.locators[0]!.weight = weight;
    expectRejected(doc, 'eid_prefixes.1.locators.0.weight');
  });

  it('accepts the boundary values priority 255 and weight 0', () => {
    const doc = base();
    doc.eid_prefixes[0]!.locators[0]!.priority = 255;
    doc.eid_prefixes[0]!.locators[0]!.weight = 0;
    expect(issues(doc)).toEqual([]);
  });

  it.each([
    ['10.1.0.0/33', /prefix length must be 0-32/],
    ['10.1.0.1/16', /host bits set beyond \/16/],
    ['10.1.0.0', /is not an IPv4 prefix/],
    ['10.1.0.256/32', /is not an IPv4 prefix/],
    ['10.1.0.0/-1', /is not an IPv4 prefix/],
  ])('rejects the prefix %j', (prefix, message) => {
    const doc = base();
    doc.eid_prefixes[0]!.prefix = prefix;
    expectRejected(doc, 'eid_prefixes.0.prefix', message);
  });

  it('rejects duplicate prefixes at the second occurrence', () => {
    const doc = base();
    doc.eid_prefixes.push(structuredClone(doc.eid_prefixes[2]!));
    expectRejected(doc, 'eid_prefixes.6.prefix', /duplicate prefix 10\.1\.0\.200\/32/);
  });

  it('rejects duplicate model names', () => {
    const doc = base();
    doc.models.push({ ...structuredClone(doc.models[0]!), eid: '10.1.0.101' });
    expectRejected(doc, 'models.4.name', /duplicate model gpt-4/);
  });

  it('rejects a model EID outside every prefix', () => {
    const doc = base();
    doc.models[3]!.eid = '10.5.0.1';
    expectRejected(doc, 'models.3.eid', /10\.5\.0\.1 is not covered/);
  });

  it('rejects more than 8 source locators and accepts exactly 8', () => {
    const doc = base();
    doc.source_locators = Array.from({ length: 8 }, (_, k) => ({ rloc: `192.0.2.${k + 1}` }));
    expect(issues(doc)).toEqual([]);
    doc.source_locators.push({ rloc: '192.0.2.9' });
    expectRejected(doc, 'source_locators');
    doc.source_locators = [];
    expectRejected(doc, 'source_locators');
  });

  it.each([
    ['top level', (d: Doc) => Object.assign(d, { extra: 1 }), ''],
    ['model', (d: Doc) => Object.assign(d.models[0]!, { gpu: 'a100' }), 'models.0'],
    ['prefix', (d: Doc) => Object.assign(d.eid_prefixes[0]!, { act: 1 }), 'eid_prefixes.0'],
    [
      'locator',
      (d: Doc) => Object.assign(d.eid_prefixes[0]!.locators[0]!, { m_priority: 1 }),
      'eid_prefixes.0.locators.0',
    ],
    [
      'source locator',
      (d: Doc) => Object.assign(d.source_locators[0]!, { up: true }),
      'source_locators.0',
    ],
  ])('rejects unknown keys on the %s (strict)', (_, mutate, path) => {
    const doc = base();
    mutate(doc);
    expectRejected(doc, path, /unrecognized key/i);
  });

  it.each([
    [
      'bad rloc',
      (d: Doc) => Object.assign(d.source_locators[0]!, { rloc: '192.168.0.256' }),
      'source_locators.0.rloc',
    ],
    ['bad model name', (d: Doc) => Object.assign(d.models[0]!, { name: 'GPT 4' }), 'models.0.name'],
    [
      'unknown strength',
      (d: Doc) => Object.assign(d.models[0]!, { strengths: ['poetry'] }),
      'models.0.strengths.0',
    ],
    ['quality 11', (d: Doc) => Object.assign(d.models[0]!, { quality: 11 }), 'models.0.quality'],
  ])('rejects a %s', (_, mutate, path) => {
    const doc = base();
    mutate(doc);
    expectRejected(doc, path);
  });
});

describe('describeIssues', () => {
  it('names the path of each issue', () => {
    const doc = base();
    doc.eid_prefixes[2]!.locators[0]!.priority = 256;
    doc.models[1]!.eid = '172.16.0.1';
    const result = mappingsSchema.safeParse(doc);
    expect(result.success).toBe(false);
    const text = describeIssues(result.error!);
    expect(text).toMatch(/^eid_prefixes\.2\.locators\.0\.priority: /);
    expect(text).toContain('; ');
    expect(text).toContain('models.1.eid: EID 172.16.0.1 is not covered by any eid_prefixes entry');
  });

  it('omits the path prefix for root issues and caps the list at ten', () => {
    const root = mappingsSchema.safeParse('nope');
    expect(describeIssues(root.error!)).not.toMatch(/^\S*\.\S*: /);
    const doc = base();
    for (const p of doc.eid_prefixes) p.locators[0]!.priority = 999;
    for (const m of doc.models) Object.assign(m, { quality: 0, latency_ms: -1 });
    const many = mappingsSchema.safeParse(doc);
    expect(many.error!.issues.length).toBeGreaterThan(10);
    expect(describeIssues(many.error!).split('; ')).toHaveLength(10);
  });
});
