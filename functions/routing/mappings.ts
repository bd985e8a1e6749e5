import * as z from 'zod';
import { ipv4ToUint32, isIPv4 } from '../../protocol/address.js';
import { PrefixError, parseIpv4Prefix, prefixContains } from './prefix.js';
import { WORKLOAD_TYPES } from './workload.js';

/**
 * A tenant's routing configuration: the model catalogue, the EID-to-RLOC
 * mappings (its map-cache contents, RFC 9301 semantics) and its own site's
 * locator set, whose up/down state becomes the LISP Locator-Status-Bits.
 */
const ipv4 = z.string().refine(isIPv4, { message: 'must be a dotted-quad IPv4 address' });
const octet = z.number().int().min(0).max(255);

export const locatorSchema = z.strictObject({
  rloc: ipv4,
  /** Lower is preferred; 255 means "never use for unicast" (RFC 9301). */
  priority: octet,
  /** Relative share among locators of equal priority. */
  weight: octet,
  reachable: z.boolean().default(true),
});

export const eidPrefixSchema = z.strictObject({
  prefix: z.string(),
  description: z.string().max(200).default(''),
  /** Map-cache TTL in minutes, as in a Map-Reply record. */
  ttl_minutes: z.number().int().min(0).max(0xffffffff).default(1440),
  locators: z.array(locatorSchema).max(32),
});

export const modelSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ -'),
  eid: ipv4,
  locality: z.enum(['local', 'cloud']),
  strengths: z.array(z.enum(WORKLOAD_TYPES)).max(WORKLOAD_TYPES.length),
  /** 1-10, higher is better. */
  quality: z.number().min(1).max(10),
  latency_ms: z.number().min(0).max(600_000),
  /** Relative cost per request; 0 for local models. */
  cost: z.number().min(0).max(10_000),
  /** Inner UDP destination port of the model's service. */
  service_port: z.number().int().min(1).max(65535).default(8080),
  enabled: z.boolean().default(true),
});

export const sourceLocatorSchema = z.strictObject({
  rloc: ipv4,
  reachable: z.boolean().default(true),
});

export const mappingsSchema = z
  .strictObject({
    models: z.array(modelSchema).min(1).max(64),
    eid_prefixes: z.array(eidPrefixSchema).min(1).max(1024),
    /** This tenant's ITR locator set; at most 8, one per LSB bit (I and L both set). */
    source_locators: z.array(sourceLocatorSchema).min(1).max(8),
  })
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    const parsed = doc.eid_prefixes.flatMap((entry, i) => {
      try {
        const prefix = parseIpv4Prefix(entry.prefix);
        if (seen.has(entry.prefix)) {
          ctx.addIssue({
            code: 'custom',
            path: ['eid_prefixes', i, 'prefix'],
            message: `duplicate prefix ${entry.prefix}`,
          });
        }
        seen.add(entry.prefix);
        return [prefix];
      } catch (error) {
        const message = error instanceof PrefixError ? error.message : 'invalid prefix';
        ctx.addIssue({ code: 'custom', path: ['eid_prefixes', i, 'prefix'], message });
        return [];
      }
    });
    const names = new Set<string>();
    doc.models.forEach((model, i) => {
      if (names.has(model.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'name'],
          message: `duplicate model ${model.name}`,
        });
      }
      names.add(model.name);
      if (!isIPv4(model.eid)) return;
      const address = ipv4ToUint32(model.eid);
      if (!parsed.some((p) => prefixContains(p, address))) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'eid'],
          message: `EID ${model.eid} is not covered by any eid_prefixes entry`,
        });
      }
    });
  });

export type Mappings = z.infer<typeof mappingsSchema>;
export type MappingsInput = z.input<typeof mappingsSchema>;
export type ModelEntry = Mappings['models'][number];
export type EidPrefixEntry = Mappings['eid_prefixes'][number];
export type Locator = EidPrefixEntry['locators'][number];

const locator = (rloc: string, priority: number, weight: number) => ({ rloc, priority, weight });

/** The seed catalogue: four models, their EIDs and RLOCs, and the four EID prefixes. */
export const DEFAULT_MAPPINGS: Mappings = mappingsSchema.parse({
  models: [
    {
      name: 'gpt-4',
      eid: '10.1.0.100',
      locality: 'cloud',
      strengths: ['complex_reasoning', 'code_generation', 'general'],
      quality: 9,
      latency_ms: 1200,
      cost: 30,
    },
    {
      name: 'claude-3',
      eid: '10.1.0.200',
      locality: 'cloud',
      strengths: ['complex_reasoning', 'code_generation', 'general'],
      quality: 9,
      latency_ms: 1000,
      cost: 15,
    },
    {
      name: 'llama3.2-local',
      eid: '10.4.0.100',
      locality: 'local',
      strengths: ['general', 'fast_response', 'local_private'],
      quality: 6,
      latency_ms: 300,
      cost: 0,
    },
    {
      name: 'phi3-local',
      eid: '10.4.0.101',
      locality: 'local',
      strengths: ['code_generation', 'fast_response', 'local_private'],
      quality: 5,
      latency_ms: 150,
      cost: 0,
    },
  ],
  eid_prefixes: [
    {
      prefix: '10.1.0.0/16',
      description: 'General AI workloads (GPT-4, Claude-3)',
      locators: [locator('192.168.1.100', 1, 50), locator('192.168.2.100', 1, 50)],
    },
    { prefix: '10.1.0.100/32', description: 'GPT-4', locators: [locator('192.168.1.100', 1, 100)] },
    {
      prefix: '10.1.0.200/32',
      description: 'Claude-3',
      locators: [locator('192.168.2.100', 1, 100)],
    },
    {
      prefix: '10.2.0.0/16',
      description: 'Fast response workloads',
      locators: [locator('192.168.3.100', 1, 50), locator('192.168.3.101', 1, 50)],
    },
    {
      prefix: '10.3.0.0/16',
      description: 'Complex reasoning workloads',
      locators: [locator('192.168.4.100', 1, 100), locator('192.168.4.101', 2, 100)],
    },
    {
      prefix: '10.4.0.0/16',
      description: 'Local model workloads',
      locators: [locator('127.0.0.1', 1, 100)],
    },
  ],
  source_locators: [{ rloc: '192.168.0.1' }],
});

/** Human-readable issues ("eid_prefixes.2.locators.0.priority: ...") for 400 answers. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`)
    .join('; ');
}
