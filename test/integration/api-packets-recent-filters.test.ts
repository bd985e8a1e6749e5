import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../functions/routing/mappings.js';
import { routeQuery } from '../../functions/routing/router.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { createPacketIdGenerator } from '../../functions/store/packet-id.js';
import { packetFromDecision } from '../../functions/store/packets.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * GET /packets/recent with the filters the console's packet table uses
 * (model, workload_type, since, until), on a real stack (dynalite). Packets
 * are routed by the real router at fixed times and stored through the
 * repository, then read through HTTP.
 */

type Json = Record<string, any>;
let stack: TestStack;
let clients: StoreClients;
let repos: Repositories;
let token: string;
const TENANT = 'recent-filters';
const nextPacketId = createPacketIdGenerator();
/** Fixed times an hour apart from a fixed origin: no wall clock. */
const T0_MS = Date.UTC(2026, 0, 5, 10, 0, 0);
const CODE = 'Write a Python function to sort a list';
const PRIVATE = 'Review this confidential contract';

interface Seeded {
  id: string;
  ms: number;
  model: string;
  workload: string;
}
const seeded: Seeded[] = [];

async function store(query: string, ms: number): Promise<void> {
  const id = nextPacketId(ms);
  const { decision, frame } = routeQuery(
    { query, sourceEid: '10.1.0.5', priority: 'medium' },
    {
      instanceId: 9,
      mappings: DEFAULT_MAPPINGS,
      packetId: id,
      timestampUs: ms * 1000,
      random: () => 3,
    },
  );
  await repos.packets.put(TENANT, packetFromDecision(id, ms * 1000, decision, frame));
  seeded.push({ id, ms, model: decision.selected_model, workload: decision.workload_type });
}

const get = async (pathname: string) => {
  const res = await stack.api(pathname, { token });
  return { res, body: (await res.json()) as Json };
};

/** Every page of a query, following next_token. */
async function readAll(query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let nextToken: string | null = null;
  do {
    const sep = query.includes('?') ? '&' : '?';
    const url: string = nextToken
      ? `${query}${sep}next_token=${encodeURIComponent(nextToken)}`
      : query;
    const { res, body } = await get(url);
    expect(res.status, JSON.stringify(body)).toBe(200);
    ids.push(...(body.packets as Json[]).map((p) => p.packet_id as string));
    nextToken = body.next_token;
    pages++;
  } while (nextToken);
  return { ids, pages };
}

const newestFirst = (rows: Seeded[]) =>
  rows
    .map((r) => r.id)
    .sort()
    .reverse();

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  await repos.tenants.create(TENANT);
  token = await repos.tenants.issueToken(TENANT);
  for (let i = 0; i < 12; i++) {
    await store(i % 3 === 0 ? PRIVATE : CODE, T0_MS + i * 3_600_000);
  }
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

describe('GET /packets/recent filters (real stack, dynalite)', () => {
  it('seeds two workloads and two models', () => {
    expect(new Set(seeded.map((s) => s.workload)).size).toBe(2);
    expect(new Set(seeded.map((s) => s.model)).size).toBeGreaterThanOrEqual(2);
  });

  it('filters by workload type, page by page, newest first', async () => {
    const { ids, pages } = await readAll(
      '/api/v1/packets/recent?limit=2&workload_type=local_private',
    );
    expect(ids).toEqual(newestFirst(seeded.filter((s) => s.workload === 'local_private')));
    expect(ids).toHaveLength(4);
    expect(pages).toBeGreaterThanOrEqual(2);
  });

  it('filters by model', async () => {
    const model = seeded.find((s) => s.workload === 'code_generation')!.model;
    const { ids } = await readAll(`/api/v1/packets/recent?limit=3&model=${model}`);
    expect(ids).toEqual(newestFirst(seeded.filter((s) => s.model === model)));
  });

  it('filters by time range (ISO 8601 and epoch seconds, both inclusive)', async () => {
    const since = new Date(T0_MS + 3 * 3_600_000).toISOString();
    const until = (T0_MS + 7 * 3_600_000) / 1000;
    const { ids } = await readAll(`/api/v1/packets/recent?limit=2&since=${since}&until=${until}`);
    expect(ids).toEqual(newestFirst(seeded.slice(3, 8)));
  });

  it('combines filters', async () => {
    const since = new Date(T0_MS + 4 * 3_600_000).toISOString();
    const { ids } = await readAll(
      `/api/v1/packets/recent?workload_type=local_private&since=${since}`,
    );
    expect(ids).toEqual(
      newestFirst(seeded.filter((s, i) => i >= 4 && s.workload === 'local_private')),
    );
  });

  it('binds next_token to the filters it was issued with', async () => {
    const first = await get('/api/v1/packets/recent?limit=1&workload_type=local_private');
    expect(typeof first.body.next_token).toBe('string');
    const other = await get(
      `/api/v1/packets/recent?limit=1&workload_type=code_generation&next_token=${encodeURIComponent(first.body.next_token)}`,
    );
    expect(other.res.status).toBe(400);
    expect(other.body.error.code).toBe('invalid_next_token');
  });

  it('refuses bad filters with 400 naming the field', async () => {
    const workload = await get('/api/v1/packets/recent?workload_type=bulk');
    expect(workload.res.status).toBe(400);
    expect(workload.body.error.message).toContain('workload_type');
    const time = await get('/api/v1/packets/recent?since=yesterday');
    expect(time.res.status).toBe(400);
    expect(time.body.error.message).toContain('since');
    const order = await get(
      '/api/v1/packets/recent?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z',
    );
    expect(order.res.status).toBe(400);
    expect(order.body.error.message).toContain('since must not be after until');
  });

  it('an unfiltered page is as before', async () => {
    const { ids } = await readAll('/api/v1/packets/recent?limit=5');
    expect(ids).toEqual(newestFirst(seeded));
  });
});
