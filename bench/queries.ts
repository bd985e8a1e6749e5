import { randomInt } from 'node:crypto';
import type { Priority } from '../functions/routing/catalogue.js';
import { DEFAULT_MAPPINGS } from '../functions/routing/mappings.js';
import { type RouteContext, type RouteRequest, routeQuery } from '../functions/routing/router.js';
import { createPacketIdGenerator } from '../functions/store/packet-id.js';
import { packetFromDecision, type StoredPacket } from '../functions/store/packets.js';

/** Uniform random integer in [0, 2^bits), crypto-backed as in the API handler. */
export const cryptoRandom = (bits: number) => randomInt(0, 2 ** bits);

const BASE_QUERIES: readonly string[] = [
  // local_private
  'Summarise this confidential patient medical record for the internal-only review',
  'Store my passwords and credentials locally, do not share them',
  'Check this HR spreadsheet for PII such as SSN before the GDPR audit',
  // code_generation
  'Write a Python function that returns the nth fibonacci number using recursion',
  'Refactor this TypeScript class so the method is easier to unit test',
  '```\nconst total = items.reduce((a, b) => a + b, 0);\n```\nwhy does this return NaN?',
  'Implement a SQL query that lists the top 10 customers by revenue',
  'Debug this bash script: it fails to compile the rust project on CI',
  // complex_reasoning
  'Analyze the trade-offs between microservices and a modular monolith architecture in depth',
  'Compare the pros and cons of nuclear and solar power, step by step, and evaluate the implications',
  'Why does the proof of the halting problem rely on diagonalisation? Derive it in detail.',
  // fast_response
  'What is the capital of Peru?',
  'Define entropy briefly',
  'Translate "good morning" to French',
  'Yes or no: is 97 prime?',
  // general
  'Tell me a story about a lighthouse keeper who befriends a seagull during a long winter storm',
  'Plan a three day itinerary for a family visiting Lisbon in the spring, with museums and parks',
  'Suggest names for a small bakery that specialises in sourdough and seasonal pastries',
];

/** ~900 characters: fits the payload, trips the "long query" rule. */
const LONG_QUERY = `Please analyze the following design document and give a detailed evaluation. ${'The service routes inference requests across several model back ends, each reachable over one or more locators with priorities and weights. '.repeat(6)}`;
/** ~4 KB: must be truncated to fit a 1500-byte MTU (binary search in buildPayload). */
const HUGE_QUERY = `Summarise this log excerpt: ${'2024-05-01T12:00:00Z worker-7 INFO request served in 12 ms from cache shard 3; '.repeat(50)}`;

const PRIORITIES: readonly Priority[] = ['low', 'medium', 'high'];

/**
 * A deterministic pool of varied route requests: every workload type, all three
 * priorities, a few source EIDs, plus about 5% long and 2% oversize queries.
 */
export function requestPool(size = 512): RouteRequest[] {
  const pool: RouteRequest[] = [];
  for (let i = 0; i < size; i++) {
    let query = BASE_QUERIES[i % BASE_QUERIES.length]!;
    if (i % 50 === 7) query = HUGE_QUERY;
    else if (i % 20 === 3) query = LONG_QUERY;
    // A suffix keeps the query hash (inner source port) varied.
    pool.push({
      query: `${query} #${i}`,
      sourceEid: `10.0.${(i >> 4) & 0xff}.${(i % 250) + 1}`,
      priority: PRIORITIES[i % PRIORITIES.length]!,
    });
  }
  return pool;
}

export function routeContext(packetId: string, timestampUs: number): RouteContext {
  return { instanceId: 1, mappings: DEFAULT_MAPPINGS, packetId, timestampUs, random: cryptoRandom };
}

/**
 * Routes `count` requests from the pool into StoredPacket objects with
 * strictly increasing packet IDs (1 ms apart from `startMs`).
 */
export function* routedPackets(count: number, startMs: number): Generator<StoredPacket> {
  const pool = requestPool();
  const nextId = createPacketIdGenerator();
  for (let i = 0; i < count; i++) {
    const ms = startMs + i;
    const id = nextId(ms);
    const timestampUs = ms * 1000;
    const { decision, frame } = routeQuery(pool[i % pool.length]!, routeContext(id, timestampUs));
    yield packetFromDecision(id, timestampUs, decision, frame);
  }
}
