import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { silentLogger } from '../../functions/logger.js';
import { mappingsSchema } from '../../functions/routing/mappings.js';
import { TangoPathsView } from '../../functions/routing/tango-paths-view.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { StoreUnavailableError } from '../../functions/store/errors.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { waitFor } from '../helpers/sample-flows.js';
import { pathsMessage, tangoPath } from '../helpers/tango-paths.js';
import { heartbeat } from '../unit/ingest/fixtures.js';

// Issue 12 end to end on the real local stack (aedes, the ingest subscriber, dynalite, the API):
// two agents publish over MQTT with their own passwords; site-b announces an EID prefix behind two
// RLOCs of equal priority, site-a (a Tango node facing site-b) publishes its path measurements.

const RLOC_SLOW = '198.51.100.7';
const RLOC_FAST = '203.0.113.9';

type Json = Record<string, any>;

let stack: TestStack;
let clients: StoreClients;
let repos: Repositories;
const agents: MqttClient[] = [];
let otherToken: string;

const json = async (res: Response) => (await res.json()) as Json;
const routeQuery = async (query: string) => {
  const res = await stack.api('/api/v1/route', { method: 'POST', json: { query } });
  expect(res.status).toBe(200);
  return json(res);
};

async function connectAgent(agentId: string): Promise<MqttClient> {
  const res = await stack.api('/api/v1/agents', { method: 'POST', json: { agent_id: agentId } });
  expect(res.status).toBe(201);
  const { mqtt: credentials } = await json(res);
  const client = await mqtt.connectAsync(stack.mqttUrl, {
    clientId: credentials.client_id,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0,
  });
  agents.push(client);
  return client;
}

const MAPPINGS = mappingsSchema.parse({
  models: [
    {
      name: 'site-llm',
      eid: '10.9.0.10',
      locality: 'local',
      strengths: ['fast_response', 'code_generation', 'general'],
      quality: 7,
      latency_ms: 100,
      cost: 0,
    },
  ],
  eid_prefixes: [
    { prefix: '0.0.0.0/0', locators: [{ rloc: '192.0.2.200', priority: 1, weight: 100 }] },
  ],
  source_locators: [{ rloc: '192.0.2.1' }],
});

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  await repos.tenants.create('paths-other');
  otherToken = await repos.tenants.issueToken('paths-other');
  const put = await stack.api('/api/v1/mappings', { method: 'PUT', json: MAPPINGS });
  expect(put.status).toBe(200);

  const siteB = await connectAgent('site-b');
  const siteA = await connectAgent('site-a');
  const now = Date.now() / 1000;
  await siteB.publishAsync(
    agentTopic('site-b', 'heartbeat'),
    JSON.stringify(
      heartbeat(now, {
        rlocs: [
          { address: RLOC_SLOW, priority: 1, weight: 50 },
          { address: RLOC_FAST, priority: 1, weight: 50 },
        ],
        eid_prefixes: ['10.9.0.0/16'],
      }),
    ),
    { qos: 1 },
  );
  await siteA.publishAsync(
    agentTopic('site-a', 'heartbeat'),
    JSON.stringify(heartbeat(now, { rlocs: [], eid_prefixes: [] })),
    { qos: 1 },
  );
  await siteA.publishAsync(
    agentTopic('site-a', 'paths'),
    JSON.stringify(
      pathsMessage(now, [
        tangoPath(0, { peer_rloc: RLOC_SLOW, delay_ms: 40, jitter_ms: 1.2, loss: 0 }),
        tangoPath(2, { peer_rloc: RLOC_FAST, delay_ms: 12.4, jitter_ms: 0.3, loss: 0.05 }),
      ]),
    ),
    { qos: 1 },
  );
  // The broker acknowledges before ingest stores: wait for the three messages to be stored.
  await waitFor(
    'ingest of 2 heartbeats and a paths message',
    () => stack.ingest.stats().stored >= 3,
  );
});

afterAll(async () => {
  for (const client of agents) await client.endAsync(true);
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

describe('Tango paths on the local stack: MQTT → ingest → API → routing', () => {
  it('serves the latest paths of the agent with their age, fresh', async () => {
    const res = await stack.api('/api/v1/agents/site-a/paths');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      agent_id: 'site-a',
      peer: { agent_id: 'site-b', name: 'site B' },
      interval_s: 5,
      stale: false,
    });
    expect(body.age_s).toBeGreaterThanOrEqual(0);
    expect(body.paths.map((p: Json) => [p.path_id, p.peer_rloc, p.delay_ms, p.stale])).toEqual([
      [0, RLOC_SLOW, 40, false],
      [2, RLOC_FAST, 12.4, false],
    ]);
  });

  it('pages the history with history=1 and refuses paging parameters without it', async () => {
    const page = await json(await stack.api('/api/v1/agents/site-a/paths?history=1&limit=1'));
    expect(page.history).toHaveLength(1);
    expect(page.history[0].paths).toHaveLength(2);
    expect(page.next_token).toBeNull();
    const bad = await stack.api('/api/v1/agents/site-a/paths?limit=5');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('invalid_request');
    const badHistory = await stack.api('/api/v1/agents/site-a/paths?history=yes');
    expect(badHistory.status).toBe(400);
  });

  it("answers 404 for another tenant's agent and for an agent with no such id", async () => {
    const other = await stack.api('/api/v1/agents/site-a/paths', { token: otherToken });
    expect(other.status).toBe(404);
    expect((await json(other)).error.code).toBe('agent_not_found');
    expect((await stack.api('/api/v1/agents/NOT_AN_ID/paths')).status).toBe(404);
  });

  it('answers an agent without Tango reports with an empty list', async () => {
    const body = await json(await stack.api('/api/v1/agents/site-b/paths'));
    expect(body).toMatchObject({ agent_id: 'site-b', paths: [], stale: null, age_s: null });
  });

  it('routes a fast_response query to the RLOC with the lowest-delay path, and says so', async () => {
    const decision = await routeQuery('What is the capital of France?');
    expect(decision.workload_type).toBe('fast_response');
    expect(decision.endpoint).toBe(RLOC_FAST);
    expect(decision.reasons.join('\n')).toContain(
      `RLOC ${RLOC_FAST} by tango path 2 to ${RLOC_FAST}: 12.4 ms, lowest delay among 2 RLOCs of priority 1`,
    );
  });

  it('routes a code query to the RLOC with the lowest-loss path', async () => {
    const decision = await routeQuery('Write a Python function to sort a list');
    expect(decision.workload_type).toBe('code_generation');
    expect(decision.endpoint).toBe(RLOC_SLOW);
    expect(decision.reasons.join('\n')).toContain(
      `tango path 0 to ${RLOC_SLOW}: 0.00 % loss, lowest loss among 2 RLOCs of priority 1`,
    );
  });

  it('documents the endpoint in /openapi.json', async () => {
    const doc = await json(await stack.api('/openapi.json', { token: null }));
    expect(doc.paths['/api/v1/agents/{id}/paths'].get.responses).toHaveProperty(['404']);
    expect(doc.components.schemas.TangoPathsMessage.properties.paths).toBeDefined();
  });

  it('routes without measurements when they cannot be read', async () => {
    const deps = createAppDeps(stack.config, { logger: silentLogger });
    try {
      const app = createApp({
        ...deps,
        tangoPaths: new TangoPathsView(async () => {
          throw new StoreUnavailableError('list paths failed: TimeoutError');
        }),
      });
      const res = await app.request('/api/v1/route', {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: 'What is the capital of France?' }),
      });
      expect(res.status).toBe(200);
      const decision = (await res.json()) as Json;
      expect([RLOC_SLOW, RLOC_FAST]).toContain(decision.endpoint);
      expect(decision.reasons.join('\n')).not.toContain('tango');
    } finally {
      destroyStoreClients(deps.clients);
    }
  });

  it('ignores the measurements once stale: the API flags them and routing falls back to weights', async () => {
    // The same store, seen by an API whose clock is 20 s ahead: past 3 intervals of 5 s, within
    // the 30 s registration hold of site-b's heartbeat.
    const deps = createAppDeps(stack.config, {
      logger: silentLogger,
      now: () => Date.now() + 20_000,
    });
    try {
      const app = createApp(deps);
      const call = (path: string, init: RequestInit = {}) =>
        app.request(path, {
          ...init,
          headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
        });
      const paths = (await (await call('/api/v1/agents/site-a/paths')).json()) as Json;
      expect(paths.stale).toBe(true);
      expect(paths.paths.every((p: Json) => p.stale === true)).toBe(true);
      const res = await call('/api/v1/route', {
        method: 'POST',
        body: JSON.stringify({ query: 'What is the capital of France?' }),
      });
      const decision = (await res.json()) as Json;
      expect(res.status).toBe(200);
      expect([RLOC_SLOW, RLOC_FAST]).toContain(decision.endpoint);
      expect(decision.reasons.join('\n')).not.toContain('tango');
      expect(decision.reasons.join('\n')).toMatch(/by priority 1, weight 50\/100/);
    } finally {
      destroyStoreClients(deps.clients);
    }
  });
});
