import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIngestDeps,
  type IngestDeps,
  ingestMessage,
  isRetryable,
  storeRefusal,
} from '../../functions/ingest/index.js';
import { silentLogger } from '../../functions/logger.js';
import { isOnline } from '../../functions/store/agents.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { AlreadyExistsError, StoreUnavailableError } from '../../functions/store/errors.js';
import {
  FLOW_QUERY_MAX_LIMIT,
  type FlowQuery,
  FlowRepository,
} from '../../functions/store/flows.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { ensureTables } from '../../functions/store/schema.js';
import {
  DYNALITE_CREDENTIALS,
  type RunningEmulator,
  startDynalite,
} from '../../infra/local/emulators.js';
import {
  type AgentCommand,
  agentTopic,
  type FlowRecordMessage,
} from '../../protocol/agent-messages.js';
import { iotRuleEvent } from '../helpers/lambda-events.js';
import { localIngestEnv, setProcessEnv } from '../helpers/process-env.js';
import { flowRecord, heartbeat, metrics } from '../unit/ingest/fixtures.js';

let dynalite: RunningEmulator;
let config: StoreConfig;
let clients: StoreClients;
let repos: Repositories;
let deps: IngestDeps;

/** Collects what ingest logs, to check rejections are logged rather than thrown. */
const logged: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
const recordingLogger = {
  debug() {},
  info() {},
  warn: (msg: string, fields: Record<string, unknown> = {}) =>
    logged.push({ level: 'warn', msg, fields }),
  error: (msg: string, fields: Record<string, unknown> = {}) =>
    logged.push({ level: 'error', msg, fields }),
};

const batch = (records: FlowRecordMessage[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    schema: 'wirefleet.flows/1',
    batch_id: `b-${records[0]?.record_id ?? 'x'}`,
    sent_at: 1_767_300_000,
    records,
    ...extra,
  });

beforeAll(async () => {
  dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
  config = {
    region: 'us-east-1',
    ...DEFAULT_TABLES,
    dynamoEndpoint: dynalite.endpoint,
    dynamoCredentials: DYNALITE_CREDENTIALS,
  };
  clients = createStoreClients(config);
  await ensureTables(clients, config);
  repos = createRepositories(clients, config);
  deps = { ...createIngestDeps(config, { clients }), logger: recordingLogger };
});

afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await dynalite?.close();
});

describe('agent registry on dynalite', () => {
  it('registers agents and verifies their passwords (right, wrong, rotated)', async () => {
    const { agent, password } = await repos.agents.register('acme', 'reg-1');
    expect(agent).toMatchObject({ agentId: 'reg-1', tenant: 'acme', lastSeen: null });
    expect(password).toMatch(/^wfa_/);
    expect(await repos.agents.verifyPassword('reg-1', password)).toBe(true);
    expect(await repos.agents.verifyPassword('reg-1', `${password}x`)).toBe(false);
    expect(await repos.agents.verifyPassword('reg-1', '')).toBe(false);
    expect(await repos.agents.verifyPassword('nobody', password)).toBe(false);

    // A second repository (another Lambda) sees the same hash; nothing stores the password itself.
    const raw = await createRepositories(clients, config).agents.get('reg-1');
    expect(JSON.stringify(raw)).not.toContain(password);

    expect(await repos.agents.rotatePassword('other', 'reg-1')).toBeUndefined();
    const rotated = await repos.agents.rotatePassword('acme', 'reg-1');
    expect(rotated).toBeDefined();
    expect(await repos.agents.verifyPassword('reg-1', password)).toBe(false);
    expect(await repos.agents.verifyPassword('reg-1', rotated!)).toBe(true);
    expect(await repos.agents.rotatePassword('acme', 'missing')).toBeUndefined();
  });

  it('keeps agent ids globally unique and rejects invalid ids', async () => {
    await repos.agents.register('acme', 'uniq-1');
    await expect(repos.agents.register('acme', 'uniq-1')).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    await expect(repos.agents.register('globex', 'uniq-1')).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    expect((await repos.agents.get('uniq-1'))?.tenant).toBe('acme');
    await expect(repos.agents.register('acme', 'Bad_Id')).rejects.toBeInstanceOf(RangeError);
  });

  it('lists agents per tenant and hides other tenants’ agents', async () => {
    await repos.agents.register('iso-a', 'iso-a-2');
    await repos.agents.register('iso-a', 'iso-a-1');
    await repos.agents.register('iso-b', 'iso-b-1');
    expect((await repos.agents.list('iso-a')).map((a) => a.agentId)).toEqual([
      'iso-a-1',
      'iso-a-2',
    ]);
    expect((await repos.agents.list('iso-b')).map((a) => a.agentId)).toEqual(['iso-b-1']);
    expect(await repos.agents.list('iso-c')).toEqual([]);
    expect(await repos.agents.getForTenant('iso-b', 'iso-a-1')).toBeUndefined();
    expect((await repos.agents.getForTenant('iso-a', 'iso-a-1'))?.agentId).toBe('iso-a-1');

    expect(await repos.agents.remove('iso-b', 'iso-a-1')).toBe(false);
    expect(await repos.agents.remove('iso-a', 'iso-a-1')).toBe(true);
    expect((await repos.agents.list('iso-a')).map((a) => a.agentId)).toEqual(['iso-a-2']);
    expect(await repos.agents.get('iso-a-1')).toBeUndefined();
  });

  it('keeps the newest heartbeat and metrics, ignoring stale ones', async () => {
    await repos.agents.register('acme', 'hb-1');
    expect(await repos.agents.recordHeartbeat('hb-1', heartbeat(1000), 5000)).toBe('stored');
    expect(
      await repos.agents.recordHeartbeat('hb-1', heartbeat(1030, { uptime_sec: 42 }), 5030),
    ).toBe('stored');
    expect(await repos.agents.recordHeartbeat('hb-1', heartbeat(1010), 5040)).toBe('stale');
    expect(await repos.agents.recordHeartbeat('hb-1', heartbeat(1030), 5040)).toBe('stale');
    const agent = (await repos.agents.get('hb-1'))!;
    expect(agent.lastSeen).toBe(5030);
    expect(agent.heartbeat).toMatchObject({ sent_at: 1030, uptime_sec: 42, interval_sec: 30 });
    expect(agent.heartbeat).not.toHaveProperty('schema');
    expect(agent.heartbeat?.rlocs).toEqual([{ address: '198.51.100.7', priority: 1, weight: 100 }]);
    expect(isOnline(agent, 5100)).toBe(true);
    expect(isOnline(agent, 5121)).toBe(false);

    expect(await repos.agents.recordMetrics('hb-1', metrics(1040), 5041)).toBe('stored');
    expect(await repos.agents.recordMetrics('hb-1', metrics(1039), 5042)).toBe('stale');
    const withMetrics = (await repos.agents.get('hb-1'))!;
    expect(withMetrics.metricsAt).toBe(5041);
    expect(withMetrics.metrics?.capture.packets_captured).toBe(1000);
    expect(withMetrics.lastSeen).toBe(5030);

    expect(await repos.agents.recordHeartbeat('never-registered', heartbeat(1), 1)).toBe('stale');
    expect(await repos.agents.get('never-registered')).toBeUndefined();
  });

  it('does not let one heartbeat from a clock far ahead make the later ones stale', async () => {
    await repos.agents.register('acme', 'hb-future');
    const yearAhead = 5000 + 365 * 86_400;
    expect(await repos.agents.recordHeartbeat('hb-future', heartbeat(yearAhead), 5000)).toBe(
      'stored',
    );
    expect(await repos.agents.recordHeartbeat('hb-future', heartbeat(5010), 5010)).toBe('stored');
    expect((await repos.agents.get('hb-future'))!.lastSeen).toBe(5010);
  });

  it('lists only live agents for the map-cache', async () => {
    await repos.agents.register('alive', 'alive-1');
    await repos.agents.register('alive', 'alive-2');
    await repos.agents.register('alive', 'alive-3');
    await repos.agents.recordHeartbeat('alive-1', heartbeat(1, { interval_sec: 10 }), 1000);
    await repos.agents.recordHeartbeat('alive-2', heartbeat(1, { interval_sec: 10 }), 900);
    expect((await repos.agents.listAlive('alive', 1020)).map((a) => a.agentId)).toEqual([
      'alive-1',
    ]);
  });
});

describe('flow records on dynalite', () => {
  const base = 1_767_225_600;

  it('writes a batch once: a redelivery is all duplicates and queries show each record once', async () => {
    const records = Array.from({ length: 40 }, (_, i) => flowRecord(i));
    expect(await repos.flows.putBatch('dup', 'dup-1', records)).toEqual({
      written: 40,
      duplicates: 0,
    });
    expect(await repos.flows.putBatch('dup', 'dup-1', records)).toEqual({
      written: 0,
      duplicates: 40,
    });
    // A retried batch after a partial write stores only what is missing.
    const more = [...records.slice(0, 5), flowRecord(100), flowRecord(101)];
    expect(await repos.flows.putBatch('dup', 'dup-1', more)).toEqual({ written: 2, duplicates: 5 });
    expect(await repos.flows.count('dup')).toBe(42);
    const all = await repos.flows.query('dup', {
      limit: 1000,
      minPackets: 0,
      sortBy: 'packets',
    });
    expect(all).toHaveLength(42);
    expect(new Set(all.map((f) => f.record_id)).size).toBe(42);
    expect(all[0]).toEqual({ ...flowRecord(101), agent_id: 'dup-1' });
  });

  it('filters by agent, time window and packets, sorts by each measure and limits', async () => {
    const t = 'filters';
    const a: FlowRecordMessage[] = Array.from({ length: 30 }, (_, i) =>
      flowRecord(i, {
        last_seen: base + i * 10,
        packets: 100 + i,
        bytes: 10_000 - i * 100,
        duration_sec: i % 7,
      }),
    );
    const b: FlowRecordMessage[] = Array.from({ length: 10 }, (_, i) =>
      flowRecord(500 + i, { last_seen: base + i * 10 + 5, packets: 1000 + i }),
    );
    await repos.flows.putBatch(t, 'fa', a);
    await repos.flows.putBatch(t, 'fb', b);
    const q = (over: Partial<FlowQuery>) =>
      repos.flows.query(t, { limit: 1000, minPackets: 0, sortBy: 'packets', ...over });

    expect(await q({})).toHaveLength(40);
    const onlyA = await q({ agentId: 'fa' });
    expect(onlyA).toHaveLength(30);
    expect(onlyA.every((f) => f.agent_id === 'fa')).toBe(true);
    expect((await q({ agentId: 'fb' })).map((f) => f.packets)).toEqual(
      b.map((f) => f.packets).reverse(),
    );
    expect(await q({ agentId: 'nobody' })).toEqual([]);

    // Window edges are inclusive and exact to the second's fraction.
    const window = await q({ agentId: 'fa', since: base + 50, until: base + 100 });
    expect(window.map((f) => f.last_seen).sort((x, y) => x - y)).toEqual(
      [50, 60, 70, 80, 90, 100].map((s) => base + s),
    );
    const edge = await q({ agentId: 'fa', since: base + 50.0001, until: base + 99.9999 });
    expect(edge).toHaveLength(4);
    expect(await q({ since: base + 300, until: base + 200 })).toEqual([]);
    // fa at 280 and 290; fb ends at 95.
    expect(await q({ since: base + 280 })).toHaveLength(2);
    expect(await q({ until: base + 4 })).toHaveLength(1);

    const heavy = await q({ minPackets: 125 });
    expect(heavy.map((f) => f.packets)).toEqual([
      1009, 1008, 1007, 1006, 1005, 1004, 1003, 1002, 1001, 1000, 129, 128, 127, 126, 125,
    ]);

    const byBytes = await q({ agentId: 'fa', sortBy: 'bytes', limit: 3 });
    expect(byBytes.map((f) => f.bytes)).toEqual([10_000, 9_900, 9_800]);
    const byDuration = await q({ agentId: 'fa', sortBy: 'duration', limit: 5 });
    expect(byDuration.map((f) => f.duration_sec)).toEqual([6, 6, 6, 6, 5]);
    // Ties keep the newest first.
    expect(byDuration.slice(0, 4).map((f) => f.last_seen)).toEqual(
      [27, 20, 13, 6].map((i) => base + i * 10),
    );
    expect(await q({ limit: 1 })).toHaveLength(1);

    await expect(q({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(q({ limit: FLOW_QUERY_MAX_LIMIT + 1 })).rejects.toBeInstanceOf(RangeError);
    expect(await repos.flows.count(t, 'fb')).toBe(10);
    expect(await repos.flows.count('filters-other')).toBe(0);
  });

  it('reads at most the cap, newest first, and says when it stopped early', async () => {
    const records = Array.from({ length: 25 }, (_, i) =>
      flowRecord(i, { last_seen: base + i, packets: 1000 - i }),
    );
    await repos.flows.putBatch('capped', 'cap-1', records);
    const capped = new FlowRepository(clients, config.flowsTable, { readCap: 10 });
    const q: FlowQuery = { limit: 100, minPackets: 0, sortBy: 'packets' };
    const out = await capped.queryWithInfo('capped', q);
    expect(out).toMatchObject({ scanned: 10, truncated: true });
    // The ten newest flows (last_seen base+15..24), even though older ones have more packets.
    expect(out.flows.map((f) => f.last_seen)).toEqual(
      Array.from({ length: 10 }, (_, i) => base + 15 + i),
    );
    const full = await repos.flows.queryWithInfo('capped', q);
    expect(full).toMatchObject({ scanned: 25, truncated: false });
    expect(full.flows[0]!.packets).toBe(1000);
  });

  it('shows only the newest export of a flow that was exported more than once', async () => {
    const live = flowRecord(7, { state: 'ACTIVE', end_reason: null, packets: 10 });
    const final = flowRecord(7, {
      record_id: 'f'.repeat(32),
      last_seen: live.last_seen + 60,
      packets: 90,
      end_reason: 'idle',
    });
    await repos.flows.putBatch('slices', 'sl-1', [live]);
    await repos.flows.putBatch('slices', 'sl-1', [final]);
    const flows = await repos.flows.query('slices', {
      limit: 10,
      minPackets: 0,
      sortBy: 'packets',
    });
    expect(flows.map((f) => f.packets)).toEqual([90]);
  });
});

describe('ingestMessage on dynalite', () => {
  beforeAll(async () => {
    await repos.agents.register('tenant-a', 'ing-a');
    await repos.agents.register('tenant-b', 'ing-b');
  });

  it('stores flows under the registry tenant and the topic agent, ignoring forged fields', async () => {
    const record = { ...flowRecord(1), tenant: 'tenant-b', agent_id: 'ing-b' };
    const payload = batch([record as FlowRecordMessage], { tenant: 'tenant-b', agent_id: 'ing-b' });
    const outcome = await ingestMessage(deps, agentTopic('ing-a', 'flows'), payload);
    expect(outcome).toEqual({
      status: 'stored',
      channel: 'flows',
      agentId: 'ing-a',
      tenant: 'tenant-a',
      written: 1,
      duplicates: 0,
    });
    const q = { limit: 10, minPackets: 0, sortBy: 'packets' as const };
    const stored = await repos.flows.query('tenant-a', q);
    expect(stored).toEqual([{ ...flowRecord(1), agent_id: 'ing-a' }]);
    expect(stored[0]).not.toHaveProperty('tenant');
    expect(await repos.flows.query('tenant-b', q)).toEqual([]);

    const again = await ingestMessage(deps, agentTopic('ing-a', 'flows'), Buffer.from(payload));
    expect(again).toMatchObject({ status: 'duplicate', written: 0, duplicates: 1 });
    expect(await repos.flows.count('tenant-a')).toBe(1);
  });

  it('rejects unknown agents, bad JSON, schema failures and the commands channel without throwing', async () => {
    logged.length = 0;
    const cases: [string, string | Uint8Array, RegExp][] = [
      [agentTopic('ghost', 'flows'), batch([flowRecord(2)]), /^unknown agent "ghost"$/],
      [agentTopic('ing-a', 'flows'), '{"schema": "wirefleet.flows/1",', /^payload is not JSON/],
      [
        agentTopic('ing-a', 'heartbeat'),
        '{"schema":"wirefleet.heartbeat/1"}',
        /^invalid heartbeat/,
      ],
      [agentTopic('ing-a', 'commands'), '{}', /downlink/],
      ['wirefleet/v1/agents/ing-a', '{}', /not an agent uplink topic/],
      [agentTopic('ing-a', 'flows'), new Uint8Array(200 * 1024), /over the 131072-byte limit/],
    ];
    for (const [topic, payload, reason] of cases) {
      const outcome = await ingestMessage(deps, topic, payload);
      expect(outcome.status).toBe('rejected');
      expect(outcome.reason).toMatch(reason);
    }
    expect(logged.filter((l) => l.msg === 'ingest rejected')).toHaveLength(cases.length);
    expect(await repos.flows.count('tenant-a')).toBe(1);
  });

  it('rejects values the store cannot hold instead of retrying them forever', async () => {
    // The schema allows any finite sent_at; the store does not.
    const huge = JSON.stringify(heartbeat(1e300));
    const outcome = await ingestMessage(deps, agentTopic('ing-a', 'heartbeat'), huge);
    expect(outcome).toMatchObject({ status: 'rejected', agentId: 'ing-a' });
    expect(outcome.reason).toBe(
      'invalid heartbeat message: sent_at: 1e+300 is outside the range the store can hold',
    );
    // Should one slip past that check, DynamoDB's refusal is permanent, not an outage.
    const refused = await repos.events
      .put('tenant-a', 'ing-a', {
        schema: 'wirefleet.event/1',
        event_id: 'tiny',
        sent_at: 1,
        type: 'drop_rate_high',
        severity: 'info',
        message: 'x',
        details: { rate: 1e-200 },
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect(isRetryable(refused)).toBe(false);
    expect(storeRefusal(refused)).toMatch(/^ValidationException: Number underflow/);
  });

  it('records heartbeats and metrics, newest wins', async () => {
    const hb = (sentAt: number) => JSON.stringify(heartbeat(sentAt));
    const topic = agentTopic('ing-a', 'heartbeat');
    expect((await ingestMessage(deps, topic, hb(2000))).status).toBe('stored');
    expect((await ingestMessage(deps, topic, hb(1999))).status).toBe('stale');
    const agent = (await repos.agents.get('ing-a'))!;
    expect(agent.heartbeat?.sent_at).toBe(2000);
    expect(isOnline(agent)).toBe(true);
    const m = await ingestMessage(deps, agentTopic('ing-a', 'metrics'), JSON.stringify(metrics(3)));
    expect(m).toMatchObject({ status: 'stored', tenant: 'tenant-a' });
  });

  it('stores events once and logs warning and critical ones', async () => {
    logged.length = 0;
    const event = JSON.stringify({
      schema: 'wirefleet.event/1',
      event_id: 'ev-1',
      sent_at: 1_767_225_600,
      type: 'capture_failed',
      severity: 'critical',
      message: 'eth9: no such device',
      tenant: 'tenant-b',
    });
    const topic = agentTopic('ing-a', 'events');
    expect((await ingestMessage(deps, topic, event)).status).toBe('stored');
    expect((await ingestMessage(deps, topic, event)).status).toBe('duplicate');
    const events = await repos.events.list('tenant-a', 'ing-a');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'ev-1',
      type: 'capture_failed',
      agent_id: 'ing-a',
    });
    expect(await repos.events.list('tenant-b', 'ing-a')).toEqual([]);
    expect(logged.filter((l) => l.msg === 'agent event' && l.level === 'error')).toHaveLength(2);
  });

  it('records a reply only for a command sent to that agent', async () => {
    const command: AgentCommand = {
      command_id: 'cmd-1',
      issued_at: 1_767_225_600,
      action: 'capture.stop',
      params: { graceful: true },
    };
    const created = await repos.commands.create('tenant-a', 'ing-a', command);
    expect(created.status).toBe('pending');
    await expect(repos.commands.create('tenant-a', 'ing-a', command)).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    const reply = JSON.stringify({
      schema: 'wirefleet.reply/1',
      command_id: 'cmd-1',
      replied_at: 1_767_225_601,
      status: 'ok',
      result: { stopped: true },
    });
    // Another agent (even one that knows the id) cannot answer it.
    const foreign = await ingestMessage(deps, agentTopic('ing-b', 'replies'), reply);
    expect(foreign).toMatchObject({ status: 'rejected', agentId: 'ing-b' });
    expect(foreign.reason).toMatch(/was not sent/);
    expect((await repos.commands.get('tenant-a', 'ing-a', 'cmd-1'))?.status).toBe('pending');

    expect((await ingestMessage(deps, agentTopic('ing-a', 'replies'), reply)).status).toBe(
      'stored',
    );
    expect((await ingestMessage(deps, agentTopic('ing-a', 'replies'), reply)).status).toBe(
      'duplicate',
    );
    const stored = await repos.commands.get('tenant-a', 'ing-a', 'cmd-1');
    expect(stored).toMatchObject({
      status: 'ok',
      replied_at: 1_767_225_601,
      reply: { command_id: 'cmd-1', result: { stopped: true } },
    });
    expect(await repos.commands.get('tenant-b', 'ing-a', 'cmd-1')).toBeUndefined();
    expect((await repos.commands.list('tenant-a', 'ing-a')).map((c) => c.command_id)).toEqual([
      'cmd-1',
    ]);
  });

  it('throws when the store is unreachable, so the transport retries', async () => {
    const down = createIngestDeps(
      {
        ...config,
        dynamoEndpoint: 'http://127.0.0.1:9',
      },
      { logger: silentLogger },
    );
    try {
      await expect(
        ingestMessage(down, agentTopic('ing-a', 'flows'), batch([flowRecord(3)])),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      // Bad input is still rejected without touching the store.
      expect((await ingestMessage(down, agentTopic('ing-a', 'flows'), 'nope')).status).toBe(
        'rejected',
      );
    } finally {
      destroyStoreClients(down.clients);
    }
  });
});

describe('the ingest Lambda handler', () => {
  let restoreEnv = () => {};
  beforeAll(() => {
    restoreEnv = setProcessEnv(localIngestEnv(dynalite.endpoint));
  });
  afterAll(() => restoreEnv());

  it('ingests the event an IoT topic rule delivers', async () => {
    await repos.agents.register('lambda-t', 'lambda-1');
    const { handler } = await import('../../functions/handlers/ingest.js');
    const body = batch([flowRecord(9), flowRecord(10)], { tenant: 'someone-else' });
    const event = iotRuleEvent('lambda-1', 'flows', body);
    expect(await handler(event)).toEqual({
      status: 'stored',
      channel: 'flows',
      agentId: 'lambda-1',
      tenant: 'lambda-t',
      written: 2,
      duplicates: 0,
    });
    expect(await handler(event)).toMatchObject({ status: 'duplicate', duplicates: 2 });
    expect(await repos.flows.count('lambda-t', 'lambda-1')).toBe(2);
    expect(await repos.flows.count('someone-else')).toBe(0);

    expect(await handler({ topic: event.topic, payload: 'not base64!' })).toEqual({
      status: 'rejected',
      reason: 'event "payload" is not base64',
    });
    const unknown = await handler({ ...event, topic: 'wirefleet/v1/agents/stranger/flows' });
    expect(unknown).toMatchObject({ status: 'rejected', reason: 'unknown agent "stranger"' });
  });
});
