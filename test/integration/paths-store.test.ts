import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestDeps, type IngestDeps, ingestMessage } from '../../functions/ingest/index.js';
import { silentLogger } from '../../functions/logger.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { ensureTables } from '../../functions/store/schema.js';
import {
  DYNALITE_CREDENTIALS,
  type RunningEmulator,
  startDynalite,
} from '../../infra/local/emulators.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import { iotRuleEvent } from '../helpers/lambda-events.js';
import { localIngestEnv, setProcessEnv } from '../helpers/process-env.js';
import { pathsMessage, tangoPath } from '../helpers/tango-paths.js';

// Paths messages through ingest into the real store (dynalite): latest per agent, history, order.

let dynalite: RunningEmulator;
let clients: StoreClients;
let repos: Repositories;
let deps: IngestDeps;

const T0 = 1_767_300_000;
const publish = (agentId: string, message: unknown) =>
  ingestMessage(deps, agentTopic(agentId, 'paths'), JSON.stringify(message));

beforeAll(async () => {
  dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
  const config: StoreConfig = {
    region: 'us-east-1',
    ...DEFAULT_TABLES,
    dynamoEndpoint: dynalite.endpoint,
    dynamoCredentials: DYNALITE_CREDENTIALS,
  };
  clients = createStoreClients(config);
  await ensureTables(clients, config);
  repos = createRepositories(clients, config);
  deps = { ...createIngestDeps(config, { clients }), logger: silentLogger };
  await repos.tenants.create('paths-a');
  await repos.tenants.create('paths-b');
  await repos.agents.register('paths-a', 'tango-a1');
  await repos.agents.register('paths-a', 'tango-a2');
  await repos.agents.register('paths-b', 'tango-b1');
});

afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await dynalite?.close();
});

describe('paths ingest and store (dynalite)', () => {
  it('stores the latest message under the tenant of the agent, never one from the payload', async () => {
    const message = pathsMessage(T0, [tangoPath(0, { delay_ms: 12.4 }), tangoPath(2)]);
    expect(await publish('tango-a1', message)).toMatchObject({
      status: 'stored',
      tenant: 'paths-a',
      agentId: 'tango-a1',
    });
    const latest = await repos.paths.latest('paths-a', 'tango-a1');
    const { schema: _schema, ...body } = message;
    expect(latest).toMatchObject({ ...body, agent_id: 'tango-a1' });
    expect(latest?.received_at).toBeGreaterThan(0);
    expect(latest).not.toHaveProperty('pk');
    expect(latest).not.toHaveProperty('order_at');
    expect(await repos.paths.latest('paths-b', 'tango-a1')).toBeUndefined();
  });

  it('is idempotent: a redelivered message is a duplicate and kept once', async () => {
    const message = pathsMessage(T0 + 5);
    expect((await publish('tango-a2', message)).status).toBe('stored');
    expect((await publish('tango-a2', message)).status).toBe('duplicate');
    const history = await repos.paths.page('paths-a', 'tango-a2', { limit: 10 });
    expect(history.items).toHaveLength(1);
  });

  it('keeps the newest as latest when an older message arrives late, which joins the history', async () => {
    const newer = pathsMessage(T0 + 20, [tangoPath(0, { delay_ms: 30 })]);
    const older = pathsMessage(T0 + 10, [tangoPath(0, { delay_ms: 99 })]);
    expect((await publish('tango-a1', newer)).status).toBe('stored');
    expect((await publish('tango-a1', older)).status).toBe('stale');
    const latest = await repos.paths.latest('paths-a', 'tango-a1');
    expect(latest?.sent_at).toBe(T0 + 20);
    expect(latest?.paths[0]?.delay_ms).toBe(30);
    const history = await repos.paths.page('paths-a', 'tango-a1', { limit: 10 });
    expect(history.items.map((item) => item.sent_at)).toEqual([T0 + 20, T0 + 10, T0]);
  });

  it('pages the history newest first', async () => {
    const first = await repos.paths.page('paths-a', 'tango-a1', { limit: 2 });
    expect(first.items.map((item) => item.sent_at)).toEqual([T0 + 20, T0 + 10]);
    expect(first.next).toBeDefined();
    const second = await repos.paths.page('paths-a', 'tango-a1', { limit: 2, after: first.next });
    expect(second.items.map((item) => item.sent_at)).toEqual([T0]);
    expect(second.next).toBeUndefined();
  });

  it("lists the latest message of each of a tenant's agents, and only that tenant's", async () => {
    await publish('tango-b1', pathsMessage(T0, [tangoPath(5)]));
    const a = await repos.paths.listLatest('paths-a');
    expect(a.map((p) => p.agent_id).sort()).toEqual(['tango-a1', 'tango-a2']);
    const b = await repos.paths.listLatest('paths-b');
    expect(b.map((p) => [p.agent_id, p.paths[0]?.path_id])).toEqual([['tango-b1', 5]]);
  });

  it('rejects messages from an unknown agent and invalid ones, storing nothing', async () => {
    expect(await publish('tango-nobody', pathsMessage(T0))).toMatchObject({
      status: 'rejected',
      reason: 'unknown agent "tango-nobody"',
    });
    const bad = await publish('tango-b1', pathsMessage(T0 + 1, [tangoPath(0, { loss: 2 })]));
    expect(bad.status).toBe('rejected');
    expect((await repos.paths.latest('paths-b', 'tango-b1'))?.sent_at).toBe(T0);
  });
});

describe('the ingest Lambda handler with a paths message (dynalite)', () => {
  let restoreEnv = () => {};
  beforeAll(() => {
    restoreEnv = setProcessEnv(localIngestEnv(dynalite.endpoint));
  });
  afterAll(() => restoreEnv());

  it('stores what the IoT topic rule delivers from the paths topic', async () => {
    await repos.agents.register('paths-b', 'tango-lambda');
    const { handler } = await import('../../functions/handlers/ingest.js');
    const event = iotRuleEvent('tango-lambda', 'paths', pathsMessage(T0 + 30, [tangoPath(4)]));
    expect(await handler(event)).toEqual({
      status: 'stored',
      channel: 'paths',
      agentId: 'tango-lambda',
      tenant: 'paths-b',
    });
    expect(await handler(event)).toMatchObject({ status: 'duplicate' });
    expect((await repos.paths.latest('paths-b', 'tango-lambda'))?.paths[0]?.path_id).toBe(4);
  });
});
