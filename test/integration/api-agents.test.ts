import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import type { CommandPublisher } from '../../functions/api/command-publisher.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { createIngestDeps, ingestMessage } from '../../functions/ingest/index.js';
import { silentLogger } from '../../functions/logger.js';
import { mappingsSchema } from '../../functions/routing/mappings.js';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import {
  type AgentCommand,
  agentTopic,
  commandSchema,
  type FlowRecordMessage,
  type Heartbeat,
  heartbeatSchema,
} from '../../protocol/agent-messages.js';
import { EDGE_MAPPINGS_INPUT } from '../helpers/edge-mappings.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let stack: TestStack;
let clients: ReturnType<typeof createStoreClients>;
let repos: Repositories;
let ingest: ReturnType<typeof createIngestDeps>;
let acmeToken: string;
const nowSec = () => Date.now() / 1000;

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  ingest = createIngestDeps(stack.config, { logger: silentLogger, clients });
  await repos.tenants.create('acme');
  acmeToken = await repos.tenants.issueToken('acme');
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

type Json = Record<string, any>;
const json = async (res: Response) => (await res.json()) as Json;
const post = (path: string, body: unknown, token?: string) =>
  stack.api(path, { method: 'POST', json: body, ...(token ? { token } : {}) });

const expectError = async (res: Response, status: number, code: string) => {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|\.ts:\d+/);
  return body;
};

const heartbeat = (sentAt: number, patch: Partial<Heartbeat> = {}): Heartbeat =>
  heartbeatSchema.parse({
    schema: 'wirefleet.heartbeat/1',
    sent_at: sentAt,
    version: '0.3.1',
    uptime_sec: 42,
    interval_sec: 10,
    backend: 'afpacket',
    capture: { running: true, interface: 'eth0' },
    rlocs: [{ address: '192.0.2.10', priority: 1, weight: 100 }],
    eid_prefixes: ['10.60.0.0/16'],
    ...patch,
  });

const flow = (
  i: number,
  f: Partial<FlowRecordMessage> & Pick<FlowRecordMessage, 'last_seen'>,
): FlowRecordMessage => ({
  record_id: i.toString(16).padStart(32, '0'),
  flow_id: String(1000 + i),
  ip_version: 4,
  src_ip: `10.0.0.${i}`,
  dst_ip: '192.0.2.99',
  src_port: 40000 + i,
  dst_port: 443,
  protocol: 6,
  vlan_id: 0,
  packets: 10,
  bytes: 1000,
  packets_fwd: 6,
  packets_rev: 4,
  bytes_fwd: 600,
  bytes_rev: 400,
  first_seen: f.last_seen - 5,
  duration_sec: 5,
  tcp_flags: 'SYN|ACK',
  state: 'ACTIVE',
  end_reason: null,
  ...f,
});

const publish = async (agentId: string, channel: 'flows' | 'heartbeat' | 'metrics', msg: unknown) =>
  ingestMessage(ingest, agentTopic(agentId, channel), JSON.stringify(msg));

describe('OpenAPI', () => {
  it('documents the agent endpoints', async () => {
    const doc = await json(await stack.api('/openapi.json', { token: null }));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/agents',
        '/api/v1/agents/{id}',
        '/api/v1/agents/{id}/credentials',
        '/api/v1/agents/{id}/commands',
        '/api/v1/agents/{id}/commands/{commandId}',
        '/api/v1/flows',
      ]),
    );
    expect(doc.paths['/api/v1/agents'].post.responses).toHaveProperty(['409']);
    expect(JSON.stringify(doc.components.schemas.CommandRequest)).toContain('capture.start');
  });
});

describe('agent registration and credentials', () => {
  let firstPassword: string;

  it('registers an agent and shows its MQTT password once', async () => {
    const res = await post('/api/v1/agents', { agent_id: 'edge-1' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toMatchObject({
      agent_id: 'edge-1',
      tenant: 'default',
      mqtt: {
        client_id: 'edge-1',
        username: 'edge-1',
        topic_prefix: 'wirefleet/v1/agents/edge-1',
      },
    });
    expect(Date.parse(body.created_at)).toBeGreaterThan(0);
    firstPassword = body.mqtt.password;
    expect(firstPassword).toMatch(/^wfa_[\w-]{40,}$/);
    expect(await repos.agents.verifyPassword('edge-1', firstPassword)).toBe(true);

    // Never again: not in the agent, not in the list.
    const again = JSON.stringify([
      await json(await stack.api('/api/v1/agents/edge-1')),
      await json(await stack.api('/api/v1/agents')),
    ]);
    expect(again).not.toContain(firstPassword);
    expect(again).not.toMatch(/"password":|wfa_/);
    // The detail says how it logs in, not with what.
    expect((await json(await stack.api('/api/v1/agents/edge-1'))).credentials).toEqual({
      login: 'password',
      certificate: null,
    });
  });

  it('answers 409 for a taken id, for every tenant, without naming the owner', async () => {
    const mine = await expectError(
      await post('/api/v1/agents', { agent_id: 'edge-1' }),
      409,
      'agent_exists',
    );
    const theirs = await expectError(
      await post('/api/v1/agents', { agent_id: 'edge-1' }, acmeToken),
      409,
      'agent_exists',
    );
    expect(theirs).toEqual(mine);
    expect(theirs.error.message).not.toContain('default');
    // The id is still the first tenant's and its password unchanged.
    expect((await repos.agents.get('edge-1'))?.tenant).toBe('default');
    expect(await repos.agents.verifyPassword('edge-1', firstPassword)).toBe(true);
  });

  it.each([
    ['an upper-case id', { agent_id: 'Edge-1' }],
    ['a leading dash', { agent_id: '-edge' }],
    ['a 64-character id', { agent_id: 'a'.repeat(64) }],
    ['a slash (topic injection)', { agent_id: 'edge/1' }],
    ['a wildcard', { agent_id: 'edge-#' }],
    ['no id', {}],
    ['an extra field', { agent_id: 'edge-9', tenant: 'acme' }],
  ])('rejects %s with 400', async (_name, body) => {
    await expectError(await post('/api/v1/agents', body), 400, 'invalid_request');
  });

  it('rotates the password: the new one works, the old one stops', async () => {
    const res = await post('/api/v1/agents/edge-1/credentials', undefined);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toMatchObject({ agent_id: 'edge-1', mqtt: { username: 'edge-1' } });
    expect(body.mqtt.password).not.toBe(firstPassword);
    expect(await repos.agents.verifyPassword('edge-1', body.mqtt.password)).toBe(true);
    expect(await repos.agents.verifyPassword('edge-1', firstPassword)).toBe(false);
  });

  it('answers 404 when rotating an unknown or another tenant agent', async () => {
    await expectError(
      await post('/api/v1/agents/edge-1/credentials', undefined, acmeToken),
      404,
      'agent_not_found',
    );
    await expectError(
      await post('/api/v1/agents/nobody/credentials', undefined),
      404,
      'agent_not_found',
    );
    await expectError(
      await post('/api/v1/agents/NOT_AN_ID/credentials', undefined),
      404,
      'agent_not_found',
    );
  });
});

describe('agent status from heartbeats', () => {
  beforeAll(async () => {
    for (const id of ['edge-2', 'edge-3']) {
      expect((await post('/api/v1/agents', { agent_id: id })).status).toBe(201);
    }
    expect((await post('/api/v1/agents', { agent_id: 'acme-1' }, acmeToken)).status).toBe(201);
    // edge-1: a heartbeat and metrics just now, through the real ingest path.
    expect((await publish('edge-1', 'heartbeat', heartbeat(nowSec()))).status).toBe('stored');
    const metrics = {
      schema: 'wirefleet.metrics/1',
      sent_at: nowSec(),
      capture: {
        running: true,
        packets_captured: 5000,
        packets_dropped: 5,
        bytes_captured: 4_000_000,
        drop_rate: 0.1,
        packet_rate_pps: 250,
        throughput_mbps: 1.6,
        buffer_usage_pct: 3,
        parse_errors: 0,
      },
      flows: { active: 12, emitted: 40, evictions: 0 },
      spool: { depth_batches: 0, depth_bytes: 0, dropped_batches: 0, dropped_records: 0 },
      uplink: { connected: true, published: 9, acked: 9, reconnects: 0 },
    };
    expect((await publish('edge-1', 'metrics', metrics)).status).toBe('stored');
    // edge-3: its latest heartbeat arrived an hour ago (interval 10 s): offline.
    const hourAgo = nowSec() - 3600;
    await repos.agents.recordHeartbeat('edge-3', heartbeat(hourAgo, { version: '0.2.0' }), hourAgo);
    // edge-2 never sent anything.
  });

  it('lists the tenant agents with online, offline and never_seen', async () => {
    const { agents } = await json(await stack.api('/api/v1/agents'));
    expect(agents.map((a: Json) => [a.agent_id, a.status])).toEqual([
      ['edge-1', 'online'],
      ['edge-2', 'never_seen'],
      ['edge-3', 'offline'],
    ]);
    const edge1 = agents[0];
    expect(edge1).toMatchObject({ version: '0.3.1', backend: 'afpacket', capture_running: true });
    expect(Math.abs(edge1.last_seen - nowSec())).toBeLessThan(60);
    expect(agents[1]).toMatchObject({ last_seen: null, version: null });
  });

  it('describes one agent with its heartbeat and metrics', async () => {
    const body = await json(await stack.api('/api/v1/agents/edge-1'));
    expect(body).toMatchObject({
      agent_id: 'edge-1',
      status: 'online',
      version: '0.3.1',
      uptime_sec: 42,
      backend: 'afpacket',
      capture: { running: true, interface: 'eth0' },
      rlocs: [{ address: '192.0.2.10', priority: 1, weight: 100 }],
      eid_prefixes: ['10.60.0.0/16'],
      metrics: { capture: { packets_captured: 5000 }, flows: { active: 12 } },
    });
    expect(typeof body.metrics_at).toBe('number');
    const never = await json(await stack.api('/api/v1/agents/edge-2'));
    expect(never).toMatchObject({
      status: 'never_seen',
      last_seen: null,
      capture: null,
      rlocs: [],
      eid_prefixes: [],
      metrics: null,
      metrics_at: null,
    });
    expect((await json(await stack.api('/api/v1/agents/edge-3'))).status).toBe('offline');
  });

  it('keeps agents per tenant: another tenant agent is 404, never 403', async () => {
    const theirs = await json(await stack.api('/api/v1/agents', { token: acmeToken }));
    expect(theirs.agents.map((a: Json) => a.agent_id)).toEqual(['acme-1']);
    await expectError(
      await stack.api('/api/v1/agents/edge-1', { token: acmeToken }),
      404,
      'agent_not_found',
    );
    await expectError(await stack.api('/api/v1/agents/acme-1'), 404, 'agent_not_found');
    await expectError(await stack.api('/api/v1/agents/nobody'), 404, 'agent_not_found');
  });
});

describe('GET /flows', () => {
  const base = Math.floor(Date.now() / 1000) - 600;

  beforeAll(async () => {
    const records = [
      flow(1, { last_seen: base + 10, packets: 100, bytes: 1_000, duration_sec: 1 }),
      flow(2, { last_seen: base + 20, packets: 10, bytes: 90_000, duration_sec: 2 }),
      flow(3, { last_seen: base + 30, packets: 50, bytes: 5_000, duration_sec: 300 }),
    ];
    const outcome = await publish('edge-1', 'flows', {
      schema: 'wirefleet.flows/1',
      batch_id: 'b-1',
      sent_at: base + 31,
      records,
    });
    expect(outcome).toMatchObject({ status: 'stored', written: 3 });
    await repos.flows.putBatch('acme', 'acme-1', [flow(9, { last_seen: base + 15 })]);
  });

  const flowIds = async (query: string, token?: string) => {
    const res = await stack.api(`/api/v1/flows${query}`, token ? { token } : {});
    expect(res.status).toBe(200);
    return ((await res.json()) as Json[]).map((f) => f.flow_id);
  };

  it('answers the seed flow shape plus the record fields', async () => {
    const flows = (await json(await stack.api('/api/v1/flows'))) as unknown as Json[];
    expect(Array.isArray(flows)).toBe(true);
    expect(flows[0]).toEqual({
      flow_id: '1001',
      src_ip: '10.0.0.1',
      dst_ip: '192.0.2.99',
      src_port: 40001,
      dst_port: 443,
      protocol: 6,
      packets: 100,
      bytes: 1000,
      bytes_fwd: 600,
      bytes_rev: 400,
      first_seen: base + 5,
      last_seen: base + 10,
      state: 'ACTIVE',
      duration_sec: 1,
      tcp_flags: 'SYN|ACK',
      agent_id: 'edge-1',
      record_id: '00000000000000000000000000000001',
      ip_version: 4,
      vlan_id: 0,
      packets_fwd: 6,
      packets_rev: 4,
      end_reason: null,
    });
  });

  it('sorts, filters and limits', async () => {
    expect(await flowIds('')).toEqual(['1001', '1003', '1002']);
    expect(await flowIds('?sort_by=bytes')).toEqual(['1002', '1003', '1001']);
    expect(await flowIds('?sort_by=duration')).toEqual(['1003', '1002', '1001']);
    expect(await flowIds('?min_packets=50')).toEqual(['1001', '1003']);
    expect(await flowIds('?limit=1&sort_by=bytes')).toEqual(['1002']);
    expect(await flowIds(`?since=${base + 20}&until=${base + 30}`)).toEqual(['1003', '1002']);
    expect(await flowIds(`?since=${base + 31}`)).toEqual([]);
    expect(await flowIds('?agent_id=edge-1&limit=1000')).toHaveLength(3);
    expect(await flowIds('?agent_id=edge-2')).toEqual([]);
    expect(await flowIds('?agent_id=&limit=')).toHaveLength(3); // empty means absent
  });

  it('keeps flows per tenant', async () => {
    expect(await flowIds('', acmeToken)).toEqual(['1009']);
    await expectError(
      await stack.api('/api/v1/flows?agent_id=edge-1', { token: acmeToken }),
      404,
      'agent_not_found',
    );
    await expectError(await stack.api('/api/v1/flows?agent_id=acme-1'), 404, 'agent_not_found');
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=1001', /limit/],
    ['limit=ten', /limit/],
    ['limit=1.5', /limit/],
    ['min_packets=-1', /min_packets/],
    ['sort_by=packets,bytes', /sort_by/],
    ['since=-5', /since/],
    ['since=yesterday', /since/],
    ['until=1e400', /until/],
    [`since=${base + 100}&until=${base}`, /since must not be after until/],
    ['agent_id=Edge_1', /agent_id/],
  ])('rejects %s with 400', async (query, message) => {
    const err = await expectError(
      await stack.api(`/api/v1/flows?${query}`),
      400,
      'invalid_request',
    );
    expect(err.error.message).toMatch(message);
  });
});

describe('commands', () => {
  it('answers 503 without storing when no command channel is configured', async () => {
    // The local stack always wires its MQTT publisher; this app over the same store has none.
    const deps = createAppDeps(stack.config, { logger: silentLogger });
    try {
      const res = await createApp(deps).request('/api/v1/agents/edge-1/commands', {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ action: 'status' }),
      });
      await expectError(res, 503, 'command_channel_unavailable');
    } finally {
      destroyStoreClients(deps.clients);
    }
    expect(await repos.commands.list('default', 'edge-1')).toEqual([]);
  });

  it('validates the command and the agent first', async () => {
    await expectError(
      await post('/api/v1/agents/edge-1/commands', { action: 'reboot' }),
      400,
      'invalid_request',
    );
    await expectError(
      await post('/api/v1/agents/edge-1/commands', {
        action: 'capture.start',
        params: { interface: 'eth0', rm: '-rf' },
      }),
      400,
      'invalid_request',
    );
    await expectError(
      await post('/api/v1/agents/edge-1/commands', {
        action: 'status',
        command_id: 'mine',
      }),
      400,
      'invalid_request',
    );
    // evidence.enable takes a cipher, never a path on the agent.
    await expectError(
      await post('/api/v1/agents/edge-1/commands', {
        action: 'evidence.enable',
        params: { key_file: '/etc/shadow' },
      }),
      400,
      'invalid_request',
    );
    await expectError(
      await post('/api/v1/agents/edge-1/commands', {
        action: 'evidence.enable',
        params: { cipher_suite: 'DES' },
      }),
      400,
      'invalid_request',
    );
    await expectError(
      await post('/api/v1/agents/nobody/commands', { action: 'status' }),
      404,
      'agent_not_found',
    );
    await expectError(
      await post('/api/v1/agents/edge-1/commands', { action: 'status' }, acmeToken),
      404,
      'agent_not_found',
    );
  });

  describe('with a command publisher', () => {
    // An in-process publisher that records what it is given: the MQTT-backed
    // one belongs to the local stack and is tested there; here the API's side
    // of the contract (store, then publish, then 202) is what is under test.
    const published: { agentId: string; command: AgentCommand }[] = [];
    let failing = false;
    const publisher: CommandPublisher = {
      async publish(agentId, command) {
        if (failing) throw new Error('broker unreachable');
        published.push({ agentId, command });
      },
    };
    let app: ReturnType<typeof createApp>;
    let deps: ReturnType<typeof createAppDeps>;
    const call = (path: string, init: RequestInit & { token?: string } = {}) => {
      const { token = stack.token, ...rest } = init;
      return app.request(path, {
        ...rest,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      });
    };

    beforeAll(() => {
      deps = createAppDeps(stack.config, { logger: silentLogger, commandPublisher: publisher });
      app = createApp(deps);
    });
    afterAll(() => destroyStoreClients(deps.clients));

    it('publishes evidence.enable with its cipher (the key file stays the agent’s)', async () => {
      const res = await call('/api/v1/agents/edge-1/commands', {
        method: 'POST',
        body: JSON.stringify({
          action: 'evidence.enable',
          params: { cipher_suite: 'AES-128-GCM' },
        }),
      });
      expect(res.status).toBe(202);
      const sent = commandSchema.parse(published.at(-1)!.command);
      expect(sent).toMatchObject({
        action: 'evidence.enable',
        params: { cipher_suite: 'AES-128-GCM' },
      });
      published.length = 0;
    });

    it('stores the command as pending, publishes it and answers 202', async () => {
      const res = await call('/api/v1/agents/edge-1/commands', {
        method: 'POST',
        body: JSON.stringify({ action: 'capture.start', params: { interface: 'eth1' } }),
      });
      expect(res.status).toBe(202);
      const body = await json(res);
      expect(body).toEqual({
        command_id: expect.stringMatching(/^cmd_[0-9a-f]{24}$/),
        status: 'pending',
        agent_id: 'edge-1',
      });
      expect(published).toHaveLength(1);
      expect(published[0]!.agentId).toBe('edge-1');
      const sent = commandSchema.parse(published[0]!.command);
      expect(sent).toMatchObject({
        command_id: body.command_id,
        action: 'capture.start',
        params: { interface: 'eth1' },
      });
      expect(Math.abs(sent.issued_at - nowSec())).toBeLessThan(60);

      const stored = await json(await call(`/api/v1/agents/edge-1/commands/${body.command_id}`));
      expect(stored).toEqual({
        command_id: body.command_id,
        agent_id: 'edge-1',
        action: 'capture.start',
        params: { interface: 'eth1' },
        issued_at: sent.issued_at,
        status: 'pending',
        reply: null,
        replied_at: null,
      });

      const reply = {
        schema: 'wirefleet.reply/1' as const,
        command_id: body.command_id,
        replied_at: nowSec(),
        status: 'ok' as const,
        result: { capture: 'started', interface: 'eth1' },
      };
      expect(await repos.commands.recordReply('edge-1', reply)).toBe('stored');
      const done = await json(await call(`/api/v1/agents/edge-1/commands/${body.command_id}`));
      expect(done).toMatchObject({ status: 'ok', reply, replied_at: reply.replied_at });

      // Another tenant cannot see it, and unknown ids are 404.
      await expectError(
        await call(`/api/v1/agents/edge-1/commands/${body.command_id}`, { token: acmeToken }),
        404,
        'agent_not_found',
      );
      await expectError(
        await call('/api/v1/agents/edge-1/commands/cmd_nope'),
        404,
        'command_not_found',
      );
      await expectError(
        await call(`/api/v1/agents/edge-1/commands/${'x'.repeat(65)}`),
        404,
        'command_not_found',
      );
    });

    it('fills in default params', async () => {
      const res = await call('/api/v1/agents/edge-2/commands', {
        method: 'POST',
        body: JSON.stringify({ action: 'status' }),
      });
      expect(res.status).toBe(202);
      expect(published.at(-1)!.command).toMatchObject({ action: 'status', params: {} });
    });

    it('answers 503 and closes the command when publishing fails', async () => {
      failing = true;
      try {
        const err = await expectError(
          await call('/api/v1/agents/edge-3/commands', {
            method: 'POST',
            body: JSON.stringify({ action: 'capture.stop', params: { graceful: true } }),
          }),
          503,
          'command_channel_unavailable',
        );
        const [command] = await repos.commands.list('default', 'edge-3');
        expect(err.error.message).toContain(command!.command_id);
        expect(command).toMatchObject({
          status: 'error',
          reply: { error: { code: 'publish_failed' } },
        });
      } finally {
        failing = false;
      }
    });
  });
});

describe('routing with agent heartbeats', () => {
  // An API with its own clock, so agents can go silent without the test waiting.
  let clock = Date.now();
  let app: ReturnType<typeof createApp>;
  let deps: ReturnType<typeof createAppDeps>;
  let token: string;
  const call = (path: string, body?: unknown, method = 'POST') =>
    app.request(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const routeOnce = async () => {
    const res = await call('/api/v1/route', { query: 'Write a Python function' });
    return { status: res.status, body: await json(res) };
  };
  const beat = (agentId: string, patch: Partial<Heartbeat>) =>
    repos.agents.recordHeartbeat(agentId, heartbeat(clock / 1000, patch), clock / 1000);

  beforeAll(async () => {
    deps = createAppDeps(stack.config, { logger: silentLogger, now: () => clock });
    app = createApp(deps);
    await repos.tenants.create('edge-tenant');
    token = await repos.tenants.issueToken('edge-tenant');
    const mappings = mappingsSchema.parse(EDGE_MAPPINGS_INPUT);
    expect((await call('/api/v1/mappings', mappings, 'PUT')).status).toBe(200);
  });
  afterAll(() => destroyStoreClients(deps.clients));

  it('routes into an announced EID prefix and sets LSBs from agent liveness', async () => {
    const before = await routeOnce();
    expect(before.status).toBe(200);
    expect(before.body.endpoint).toBe('198.51.100.77');
    expect(before.body.lisp_packet.lisp_header.lsb).toBe(0b111);

    // edge-50 announces 10.50.0.0/16 behind RLOC 192.0.2.50; itr-2 owns source locator 192.0.2.2.
    for (const id of ['edge-50', 'itr-2']) {
      expect((await call('/api/v1/agents', { agent_id: id })).status).toBe(201);
    }
    await beat('edge-50', {
      rlocs: [{ address: '192.0.2.50', priority: 1, weight: 100 }],
      eid_prefixes: ['10.50.0.0/16'],
    });
    await beat('itr-2', {
      rlocs: [{ address: '192.0.2.2', priority: 1, weight: 100 }],
      eid_prefixes: [],
    });
    const up = await routeOnce();
    expect(up.status).toBe(200);
    expect(up.body.endpoint).toBe('192.0.2.50');
    expect(up.body.lisp_packet.metadata.eid_prefix).toBe('10.50.0.0/16');
    expect(up.body.lisp_packet.outer_header.dst_ip).toBe('192.0.2.50');
    expect(up.body.lisp_packet.lisp_header.lsb).toBe(0b111);

    // A minute later only edge-50 has kept sending heartbeats: itr-2 is offline.
    clock += 60_000;
    await beat('edge-50', {
      rlocs: [{ address: '192.0.2.50', priority: 1, weight: 100 }],
      eid_prefixes: ['10.50.0.0/16'],
    });
    const itrDown = await routeOnce();
    expect(itrDown.body.endpoint).toBe('192.0.2.50');
    expect(itrDown.body.lisp_packet.lisp_header.lsb).toBe(0b101);
    expect(itrDown.body.lisp_packet.outer_header.src_ip).not.toBe('192.0.2.2');

    // Another minute of silence: edge-50's registration expired, and the configured /8 takes over.
    clock += 60_000;
    const down = await routeOnce();
    expect(down.status).toBe(200);
    expect(down.body.endpoint).toBe('198.51.100.77');
    expect(down.body.reasons).toContain(
      '10.50.0.0/16 learnt from agent edge-50 withdrawn: no heartbeat for 60 s (hold 30 s); using configured 10.0.0.0/8',
    );
  });
});
