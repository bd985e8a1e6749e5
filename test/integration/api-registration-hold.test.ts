import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { createIngestDeps, type IngestDeps, ingestMessage } from '../../functions/ingest/index.js';
import { silentLogger } from '../../functions/logger.js';
import { AgentRepository } from '../../functions/store/agents.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { agentTopic, type Heartbeat } from '../../protocol/agent-messages.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The issue's site, end to end on a real stack (dynalite): a private model at
 * 10.4.0.100 inside the configured aggregate 10.4.0.0/16 (RLOC 127.0.0.1); an
 * agent registers 10.4.0.0/24 behind its own RLOC through heartbeats that go
 * through the real ingest code. Time is the app's injectable clock: nobody sleeps.
 */
const SITE_MAPPINGS = {
  models: [
    {
      name: 'private-llm',
      eid: '10.4.0.100',
      locality: 'local',
      strengths: ['local_private', 'general'],
      quality: 6,
      latency_ms: 300,
      cost: 0,
    },
  ],
  eid_prefixes: [
    { prefix: '10.4.0.0/16', locators: [{ rloc: '127.0.0.1', priority: 1, weight: 100 }] },
  ],
  source_locators: [{ rloc: '192.0.2.1' }],
};
const PRIVATE_QUERY = 'Summarize this confidential patient record';

/** The real repository; heartbeats are stamped with the test's clock instead of the wall clock. */
class ClockedAgentRepository extends AgentRepository {
  constructor(
    clients: StoreClients,
    table: string,
    private readonly clock: () => number,
  ) {
    super(clients, table);
  }

  override recordHeartbeat(agentId: string, heartbeat: Heartbeat, receivedAt?: number) {
    return super.recordHeartbeat(agentId, heartbeat, receivedAt ?? this.clock() / 1000);
  }
}

let stack: TestStack;
let clients: StoreClients;
let repos: Repositories;
let clock = Date.now();
let app: ReturnType<typeof createApp>;
let deps: ReturnType<typeof createAppDeps>;
let ingest: IngestDeps;

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  deps = createAppDeps(stack.config, { logger: silentLogger, now: () => clock });
  app = createApp(deps);
  ingest = {
    ...createIngestDeps(stack.config, { logger: silentLogger, clients }),
    agents: new ClockedAgentRepository(clients, stack.config.tenantsTable, () => clock),
  };
});
afterAll(async () => {
  if (deps) destroyStoreClients(deps.clients);
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

/** A tenant with the site's mappings and one registered agent, driven through the API. */
async function siteTenant(tenant: string, agentId: string) {
  await repos.tenants.create(tenant);
  const token = await repos.tenants.issueToken(tenant);
  const call = (path: string, body?: unknown, method = 'POST') =>
    app.request(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  expect((await call('/api/v1/mappings', SITE_MAPPINGS, 'PUT')).status).toBe(200);
  expect((await call('/api/v1/agents', { agent_id: agentId })).status).toBe(201);
  return {
    async status() {
      const res = await call(`/api/v1/agents/${agentId}`, undefined, 'GET');
      return ((await res.json()) as { status: string }).status;
    },
    async route() {
      const res = await call('/api/v1/route', { query: PRIVATE_QUERY });
      const body = (await res.json()) as Record<string, any>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      return body as { endpoint: string; reasons: string[]; lisp_packet: Record<string, any> };
    },
    /** One heartbeat through ingest, as the agent's MQTT message would arrive. */
    async beat(intervalSec: number) {
      const outcome = await ingestMessage(
        ingest,
        agentTopic(agentId, 'heartbeat'),
        JSON.stringify({
          schema: 'wirefleet.heartbeat/1',
          sent_at: clock / 1000,
          version: '0.3.1',
          uptime_sec: 60,
          interval_sec: intervalSec,
          backend: 'afpacket',
          capture: { running: true, interface: 'eth0' },
          rlocs: [{ address: '192.0.2.50', priority: 1, weight: 100 }],
          eid_prefixes: ['10.4.0.0/24'],
        }),
      );
      expect(outcome).toMatchObject({ status: 'stored', tenant });
    },
  };
}

/** Moves the app's clock; every step is longer than the routing view's 5 s cache. */
const advance = (sec: number) => {
  clock += sec * 1000;
};

describe('a site that goes quiet (API, real ingest, injectable clock)', () => {
  it('announce, take over, go quiet, withdraw, fall back, come back', async () => {
    const site = await siteTenant('hold-a', 'edge-4');
    expect((await site.route()).endpoint).toBe('127.0.0.1');

    // Announce: heartbeats every 10 s, so the registration is held 30 s.
    await site.beat(10);
    advance(6);
    const taken = await site.route();
    expect(taken.endpoint).toBe('192.0.2.50');
    expect(taken.lisp_packet.metadata.eid_prefix).toBe('10.4.0.0/24');
    expect(taken.lisp_packet.outer_header.dst_ip).toBe('192.0.2.50');

    // Go quiet: 95 s without a heartbeat. The /24 is withdrawn and the /16 takes over.
    advance(89);
    const quiet = await site.route();
    expect(quiet.endpoint).toBe('127.0.0.1');
    expect(quiet.lisp_packet.metadata.eid_prefix).toBe('10.4.0.0/16');
    expect(quiet.lisp_packet.outer_header.dst_ip).toBe('127.0.0.1');
    expect(quiet.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-4 withdrawn: no heartbeat for 95 s (hold 30 s); using configured 10.4.0.0/16',
    );
    expect(await site.status()).toBe('offline');
    // Private queries keep working for as long as the site is away.
    advance(3600);
    expect((await site.route()).endpoint).toBe('127.0.0.1');

    // Come back: one heartbeat, and the next read of the agents gives the /24 back.
    await site.beat(10);
    advance(6);
    const back = await site.route();
    expect(back.endpoint).toBe('192.0.2.50');
    expect(back.reasons.join('\n')).not.toMatch(/withdrawn|passed over/);
    expect(await site.status()).toBe('online');
  });

  it('does not blackhole between the agent going offline and the hold time', async () => {
    const site = await siteTenant('hold-b', 'edge-5');
    // Heartbeats every 2 s: offline after 6 s, registration held for the 30 s floor.
    await site.beat(2);
    advance(1);
    expect((await site.route()).endpoint).toBe('192.0.2.50');

    advance(11);
    const down = await site.route();
    expect(down.endpoint).toBe('127.0.0.1');
    expect(down.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-5 passed over: every locator is down; using configured 10.4.0.0/16',
    );

    advance(20);
    const withdrawn = await site.route();
    expect(withdrawn.endpoint).toBe('127.0.0.1');
    expect(withdrawn.reasons).toContain(
      '10.4.0.0/24 learnt from agent edge-5 withdrawn: no heartbeat for 32 s (hold 30 s); using configured 10.4.0.0/16',
    );
  });
});
