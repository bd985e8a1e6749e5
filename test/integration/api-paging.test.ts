import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { silentLogger } from '../../functions/logger.js';
import { DEFAULT_MAPPINGS } from '../../functions/routing/mappings.js';
import { routeQuery } from '../../functions/routing/router.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { newCommandId } from '../../functions/store/commands.js';
import { FlowRepository } from '../../functions/store/flows.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { createPacketIdGenerator } from '../../functions/store/packet-id.js';
import { packetFromDecision } from '../../functions/store/packets.js';
import {
  PAGING_SECRET_BYTES,
  PagingSecretRepository,
} from '../../functions/store/paging-secret.js';
import { ensureTables } from '../../functions/store/schema.js';
import {
  commandSchema,
  eventSchema,
  type FlowRecordMessage,
} from '../../protocol/agent-messages.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { metrics } from '../unit/ingest/fixtures.js';

/**
 * Paging through every list of the API on a real stack (dynalite): items are
 * seeded through the repositories (fast), read through HTTP, and new items
 * keep arriving between page reads.
 */

let stack: TestStack;
let clients: StoreClients;
let repos: Repositories;
let tokenA: string;
let tokenB: string;

type Json = Record<string, any>;
const SEEDED = 2500;
const T0_MS = Date.now() - 3_600_000;
const nextPacketId = createPacketIdGenerator();

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  await repos.tenants.create('page-a');
  await repos.tenants.create('page-b');
  tokenA = await repos.tenants.issueToken('page-a');
  tokenB = await repos.tenants.issueToken('page-b');
  await repos.agents.register('page-a', 'pg-agent');
  await repos.agents.register('page-a', 'pg-other');
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

/** Runs `work` over `items`, 16 at a time. */
async function inParallel<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Stores packets routed at these times (epoch ms) for the tenant; returns their ids. */
async function storePackets(tenant: string, timesMs: number[]): Promise<string[]> {
  const packets = timesMs.map((ms, i) => {
    const id = nextPacketId(ms);
    const { decision, frame } = routeQuery(
      { query: `paging query ${i}`, sourceEid: '10.0.0.1', priority: 'medium' },
      {
        instanceId: 1,
        mappings: DEFAULT_MAPPINGS,
        packetId: id,
        timestampUs: ms * 1000,
        random: () => 7,
      },
    );
    return packetFromDecision(id, ms * 1000, decision, frame);
  });
  await inParallel(packets, (p) => repos.packets.put(tenant, p));
  return packets.map((p) => p.id);
}

let flowSeq = 0;
/** Flow records ending at these times (epoch seconds); returns their record ids. */
function flows(lastSeen: number[], packets = 10): FlowRecordMessage[] {
  return lastSeen.map((t) => {
    const i = flowSeq++;
    return {
      record_id: i.toString(16).padStart(32, '0'),
      flow_id: String(i),
      ip_version: 4,
      src_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      dst_ip: '192.0.2.99',
      src_port: 1024 + (i % 60_000),
      dst_port: 443,
      protocol: 6,
      vlan_id: 0,
      packets,
      bytes: 1000,
      packets_fwd: 6,
      packets_rev: 4,
      bytes_fwd: 600,
      bytes_rev: 400,
      first_seen: t - 5,
      last_seen: t,
      duration_sec: 5,
      tcp_flags: 'SYN|ACK',
      state: 'CLOSED',
      end_reason: 'fin_rst',
    };
  });
}

async function storeFlows(agentId: string, records: FlowRecordMessage[]): Promise<string[]> {
  for (let i = 0; i < records.length; i += 500) {
    await repos.flows.putBatch('page-a', agentId, records.slice(i, i + 500));
  }
  return records.map((r) => r.record_id);
}

const get = async (path: string, token = tokenA) => {
  const res = await stack.api(path, { token });
  return { res, body: (await res.json()) as Json };
};

const expectInvalidToken = async (path: string, token = tokenA) => {
  const { res, body } = await get(path, token);
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(body.error.code).toBe('invalid_next_token');
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|\.ts:\d+/);
  return body.error.message as string;
};

/**
 * Reads a list to its end, page by page, calling `between` after each page
 * (to write new items while the reader is in the middle). Returns every id read.
 */
async function readAll(
  firstPath: string,
  read: (res: Response, body: Json) => { ids: string[]; token: string | null },
  between: () => Promise<unknown> = async () => undefined,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let token: string | null = null;
  do {
    const sep = firstPath.includes('?') ? '&' : '?';
    const path: string = token
      ? `${firstPath}${sep}next_token=${encodeURIComponent(token)}`
      : firstPath;
    const res = await stack.api(path, { token: tokenA });
    const body = (await res.json()) as Json;
    expect(res.status, JSON.stringify(body)).toBe(200);
    const page = read(res, body);
    ids.push(...page.ids);
    token = page.token;
    pages++;
    if (token) await between();
  } while (token);
  return { ids, pages };
}

const packetPage = (_res: Response, body: Json) => {
  expect(body.count).toBe(body.packets.length);
  expect(body).toHaveProperty('next_token');
  return {
    ids: body.packets.map((p: Json) => p.packet_id as string),
    token: body.next_token as string | null,
  };
};
const flowPage = (res: Response, body: Json) => {
  expect(Array.isArray(body)).toBe(true);
  return {
    ids: (body as unknown as Json[]).map((f) => f.record_id as string),
    token: res.headers.get('x-wirefleet-next-token'),
  };
};

/** Every item present before the read exactly once; nothing twice; nothing unknown. */
function expectExactlyOnce(read: string[], present: Set<string>, arrived: Set<string>) {
  const seen = new Map<string, number>();
  for (const id of read) seen.set(id, (seen.get(id) ?? 0) + 1);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  const missing = [...present].filter((id) => !seen.has(id));
  expect(missing).toEqual([]);
  const unknown = read.filter((id) => !present.has(id) && !arrived.has(id));
  expect(unknown).toEqual([]);
}

describe('GET /packets/recent pages through 2 500 packets while more arrive', () => {
  const present = new Set<string>();

  beforeAll(async () => {
    const times = Array.from({ length: SEEDED }, (_, i) => T0_MS + i * 10);
    for (const id of await storePackets('page-a', times)) present.add(id);
  });

  it.each([1000, 333, 97])('limit=%i: each packet exactly once, newest first', async (limit) => {
    const arrived = new Set<string>();
    let round = 0;
    const { ids, pages } = await readAll(
      `/api/v1/packets/recent?limit=${limit}`,
      packetPage,
      async () => {
        round++;
        // New packets (newer than all) and late ones stamped inside the range already read.
        const now = Date.now();
        const late = T0_MS + ((round * 7919) % SEEDED) * 10 + 5;
        for (const id of await storePackets('page-a', [now, now + 1, late])) arrived.add(id);
      },
    );
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(present.size / limit));
    expectExactlyOnce(ids, present, arrived);
    expect([...ids].sort().reverse()).toEqual(ids);
    for (const id of arrived) present.add(id);
  });

  it('keeps count as the seed names it, and refuses count and limit that disagree', async () => {
    const { body } = await get('/api/v1/packets/recent?count=3');
    expect(body.count).toBe(3);
    expect(typeof body.next_token).toBe('string');
    expect((await get('/api/v1/packets/recent?count=3&limit=3')).body.count).toBe(3);
    const { res, body: bad } = await get('/api/v1/packets/recent?count=3&limit=4');
    expect(res.status).toBe(400);
    expect(bad.error.code).toBe('invalid_request');
  });

  it('ends with next_token null, and another tenant sees none of it', async () => {
    const { body } = await get('/api/v1/packets/recent?limit=1000', tokenB);
    expect(body).toEqual({ status: 'success', count: 0, packets: [], next_token: null });
  });
});

describe('GET /flows?sort_by=time pages through 2 500 flows while more arrive', () => {
  const presentA = new Set<string>();
  const presentOther = new Set<string>();
  const base = Math.floor(T0_MS / 1000);

  beforeAll(async () => {
    // Several records share each last_seen: ties are ordered by agent and record id.
    const times = Array.from({ length: SEEDED }, (_, i) => base + Math.floor(i / 3) + 0.25);
    for (const id of await storeFlows('pg-agent', flows(times))) presentA.add(id);
    const other = Array.from({ length: 500 }, (_, i) => base + i * 2 + 0.5);
    for (const id of await storeFlows('pg-other', flows(other, 1))) presentOther.add(id);
  });

  it.each([1000, 250, 77])('limit=%i: each record exactly once, newest first', async (limit) => {
    const present = new Set([...presentA, ...presentOther]);
    const arrived = new Set<string>();
    let round = 0;
    const seen: number[] = [];
    const { ids } = await readAll(
      `/api/v1/flows?sort_by=time&limit=${limit}`,
      (res, body) => {
        for (const f of body as unknown as Json[]) seen.push(f.last_seen as number);
        return flowPage(res, body);
      },
      async () => {
        round++;
        const late = base + ((round * 131) % 800) + 0.75;
        const fresh = flows([Date.now() / 1000, late]);
        for (const id of await storeFlows('pg-agent', fresh)) arrived.add(id);
        presentA.add(fresh[0]!.record_id).add(fresh[1]!.record_id);
      },
    );
    expectExactlyOnce(ids, present, arrived);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('pages one agent’s flows with a filter, exactly once, none of the other agent’s', async () => {
    const { ids, pages } = await readAll(
      '/api/v1/flows?sort_by=time&agent_id=pg-agent&min_packets=2&limit=300',
      flowPage,
    );
    expect(pages).toBeGreaterThan(8);
    expectExactlyOnce(ids, presentA, new Set());
    expect(ids.some((id) => presentOther.has(id))).toBe(false);
  });

  it('pages a time window and keeps its edges exact', async () => {
    const since = base + 100;
    const until = base + 200;
    const { ids } = await readAll(
      `/api/v1/flows?sort_by=time&since=${since}&until=${until}&limit=40`,
      flowPage,
    );
    const inWindow = (
      await repos.flows.query('page-a', {
        since,
        until,
        limit: 1000,
        minPackets: 0,
        sortBy: 'packets',
      })
    ).map((f) => f.record_id);
    expect(new Set(ids)).toEqual(new Set(inWindow));
    expect(ids).toHaveLength(new Set(ids).size);
  });

  it('keeps rankings unpaged: top-N with no next_token, and a token there is refused', async () => {
    const { res, body } = await get('/api/v1/flows?limit=10');
    expect(res.status).toBe(200);
    expect(body).toHaveLength(10);
    expect(res.headers.get('x-wirefleet-next-token')).toBeNull();
    const token = (
      await stack.api('/api/v1/flows?sort_by=time&limit=5', { token: tokenA })
    ).headers.get('x-wirefleet-next-token')!;
    expect(await expectInvalidToken(`/api/v1/flows?sort_by=bytes&next_token=${token}`)).toMatch(
      /sort_by=time/,
    );
  });
});

describe('the store position under a read cap', () => {
  it('gives short or empty pages with a position, and reads everything exactly once', async () => {
    // A repository that evaluates at most 50 items per page, filtered to the rare agent.
    const capped = new FlowRepository(clients, stack.config.flowsTable, { readCap: 50 });
    const wanted = new Set(
      (
        await repos.flows.query('page-a', {
          agentId: 'pg-other',
          limit: 1000,
          minPackets: 0,
          sortBy: 'packets',
        })
      ).map((f) => f.record_id),
    );
    const ids: string[] = [];
    let after: string | undefined;
    let pages = 0;
    let short = 0;
    do {
      const page = await capped.page('page-a', {
        agentId: 'pg-other',
        minPackets: 0,
        limit: 20,
        ...(after !== undefined ? { after } : {}),
      });
      ids.push(...page.flows.map((f) => f.record_id));
      if (page.flows.length < 20 && page.next !== undefined) short++;
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(short).toBeGreaterThan(0);
    expect(pages).toBeGreaterThan(wanted.size / 20);
    expectExactlyOnce(ids, wanted, new Set());
  });
});

describe('next_token is bound to its tenant and query and cannot be edited', () => {
  let flowToken: string;
  let packetToken: string;

  beforeAll(async () => {
    flowToken = (
      await stack.api('/api/v1/flows?sort_by=time&agent_id=pg-agent&limit=5', { token: tokenA })
    ).headers.get('x-wirefleet-next-token')!;
    packetToken = (await get('/api/v1/packets/recent?limit=5')).body.next_token;
    expect(flowToken).toMatch(/^p1\./);
    expect(packetToken).toMatch(/^p1\./);
  });

  it('works where it came from, with any limit', async () => {
    const { res } = await get(
      `/api/v1/flows?sort_by=time&agent_id=pg-agent&limit=9&next_token=${flowToken}`,
    );
    expect(res.status).toBe(200);
    const again = await get(
      `/api/v1/flows?agent_id=pg-agent&limit=5&sort_by=time&next_token=${flowToken}`,
    );
    expect(again.res.status).toBe(200);
  });

  it('is refused for another tenant', async () => {
    expect(
      await expectInvalidToken(`/api/v1/packets/recent?limit=5&next_token=${packetToken}`, tokenB),
    ).toMatch(/another tenant/);
    const allFlows = (
      await stack.api('/api/v1/flows?sort_by=time&limit=5', { token: tokenA })
    ).headers.get('x-wirefleet-next-token')!;
    expect(
      await expectInvalidToken(`/api/v1/flows?sort_by=time&next_token=${allFlows}`, tokenB),
    ).toMatch(/another tenant/);
  });

  it('is refused for another query', async () => {
    expect(
      await expectInvalidToken(`/api/v1/flows?sort_by=time&limit=5&next_token=${flowToken}`),
    ).toMatch(/another query/);
    expect(
      await expectInvalidToken(
        `/api/v1/flows?sort_by=time&agent_id=pg-other&limit=5&next_token=${flowToken}`,
      ),
    ).toMatch(/another query/);
    expect(
      await expectInvalidToken(
        `/api/v1/flows?sort_by=time&agent_id=pg-agent&min_packets=3&next_token=${flowToken}`,
      ),
    ).toMatch(/another query/);
    expect(
      await expectInvalidToken(`/api/v1/flows?sort_by=time&next_token=${packetToken}`),
    ).toMatch(/another query/);
    expect(
      await expectInvalidToken(`/api/v1/agents/pg-agent/events?next_token=${packetToken}`),
    ).toMatch(/another query/);
  });

  it('is refused when tampered with or malformed', async () => {
    const [version, body, signature] = packetToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const moved = Buffer.from(JSON.stringify({ ...claims, p: '0000000000000000' })).toString(
      'base64url',
    );
    for (const token of [
      `${version}.${moved}.${signature}`,
      `${packetToken.slice(0, -2)}${packetToken.endsWith('AA') ? 'BB' : 'AA'}`,
      'garbage',
      'p1..',
      'x'.repeat(5000),
    ]) {
      await expectInvalidToken(
        `/api/v1/packets/recent?limit=5&next_token=${encodeURIComponent(token)}`,
      );
    }
  });

  it('is honoured by another API process over the same store (another Lambda)', async () => {
    const deps = createAppDeps(stack.config, { logger: silentLogger });
    try {
      const res = await createApp(deps).request(
        `/api/v1/packets/recent?limit=5&next_token=${packetToken}`,
        { headers: { Authorization: `Bearer ${tokenA}` } },
      );
      expect(res.status).toBe(200);
      expect(((await res.json()) as Json).count).toBe(5);
    } finally {
      destroyStoreClients(deps.clients);
    }
  });
});

describe('agents, events, metrics and commands page too', () => {
  beforeAll(async () => {
    for (let i = 0; i < 23; i++) {
      await repos.agents.register('page-b', `pb-${String(i).padStart(2, '0')}`);
    }
    const events = Array.from({ length: 30 }, (_, i) =>
      eventSchema.parse({
        schema: 'wirefleet.event/1',
        event_id: `ev-${i}`,
        sent_at: 1_800_000_000 + i,
        type: 'capture_started',
        severity: 'info',
        message: `event ${i}`,
      }),
    );
    await inParallel(events, (e) => repos.events.put('page-b', 'pb-00', e));
    for (let i = 0; i < 12; i++) {
      const command = commandSchema.parse({
        command_id: newCommandId(T0_MS + i * 1000),
        action: 'status',
        params: {},
        issued_at: Math.floor(T0_MS / 1000) + i,
      });
      await repos.commands.create('page-b', 'pb-00', command);
    }
  });

  const readB = async (path: string, key: string, idOf: (item: Json) => string) => {
    const ids: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const { res, body } = await get(token ? `${path}${sep}next_token=${token}` : path, tokenB);
      expect(res.status, JSON.stringify(body)).toBe(200);
      ids.push(...(body[key] as Json[]).map(idOf));
      token = body.next_token;
      pages++;
    } while (token);
    return { ids, pages };
  };

  it('GET /agents', async () => {
    const { ids, pages } = await readB('/api/v1/agents?limit=7', 'agents', (a) => a.agent_id);
    expect(ids).toEqual(Array.from({ length: 23 }, (_, i) => `pb-${String(i).padStart(2, '0')}`));
    expect(pages).toBe(4);
    // The default page still holds every agent of a small tenant.
    expect((await get('/api/v1/agents', tokenB)).body.agents).toHaveLength(23);
  });

  it('GET /agents/{id}/events', async () => {
    const { ids, pages } = await readB(
      '/api/v1/agents/pb-00/events?limit=8',
      'events',
      (e) => e.event_id,
    );
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => `ev-${29 - i}`));
    expect(pages).toBe(4);
  });

  it('GET /agents/{id}/commands, newest first', async () => {
    const { ids } = await readB(
      '/api/v1/agents/pb-00/commands?limit=5',
      'commands',
      (c) => c.command_id,
    );
    expect(ids).toHaveLength(12);
    expect([...ids].sort().reverse()).toEqual(ids);
    const { body } = await get('/api/v1/agents/pb-00/commands?limit=1', tokenB);
    // Twelve hours old and never answered: the list says expired, as the single view does.
    expect(body.commands[0].status).toBe('expired');
  });

  it('GET /agents/{id}/metrics', async () => {
    for (let i = 0; i < 9; i++) {
      await repos.metricsHistory.put('page-b', 'pb-01', metrics(1_800_000_000 + i));
    }
    const { ids } = await readB('/api/v1/agents/pb-01/metrics?limit=4', 'metrics', (m) =>
      String(m.sent_at),
    );
    expect(ids).toEqual(Array.from({ length: 9 }, (_, i) => String(1_800_000_008 - i)));
  });
});

describe('the paging secret', () => {
  it('is made once: concurrent first users agree on one 32-byte key', async () => {
    const config = { ...stack.config, tenantsTable: `paging-race-${process.pid}` };
    await ensureTables(clients, config);
    const racers = Array.from(
      { length: 6 },
      () => new PagingSecretRepository(clients, config.tenantsTable),
    );
    const secrets = await Promise.all(racers.map((r) => r.secret()));
    expect(secrets[0]).toHaveLength(PAGING_SECRET_BYTES);
    for (const s of secrets) expect(Buffer.from(s).equals(Buffer.from(secrets[0]!))).toBe(true);
    const later = await new PagingSecretRepository(clients, config.tenantsTable).secret();
    expect(Buffer.from(later).equals(Buffer.from(secrets[0]!))).toBe(true);
  });
});

describe('the OpenAPI description', () => {
  it('documents limit, next_token, the response field and the 400 on every list', async () => {
    const doc = (await (await stack.api('/openapi.json', { token: null })).json()) as Json;
    for (const path of [
      '/api/v1/packets/recent',
      '/api/v1/flows',
      '/api/v1/agents',
      '/api/v1/agents/{id}/events',
      '/api/v1/agents/{id}/metrics',
      '/api/v1/agents/{id}/commands',
    ]) {
      const op = doc.paths[path].get;
      const names = op.parameters.map((p: Json) => p.name);
      expect(names, path).toEqual(expect.arrayContaining(['limit', 'next_token']));
      expect(op.responses['400'].description, path).toMatch(/invalid_next_token/);
      const ok = JSON.stringify(op.responses['200']);
      expect(ok, path).toMatch(path === '/api/v1/flows' ? /X-Wirefleet-Next-Token/ : /next_token/);
    }
    expect(doc.paths['/api/v1/flows'].get.description).toMatch(/ranking is not paged/);
  });
});
