import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { packFlowBatches } from '../../agent/batcher.js';
import { createIngestDeps } from '../../functions/ingest/index.js';
import { destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import { startTestStack } from '../helpers/local-stack.js';
import { sampleFlows } from '../helpers/sample-flows.js';

// The local stack in process (aedes, the ingest subscriber, dynalite on disk): an agent's flow
// batches are acknowledged by the broker before ingest stores them, so a stop must let ingest
// finish before the store closes. Checked after a restart on the same data.

const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-stop-ingest-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('startLocalStack().stop(): ingest writes finish before the stores close', () => {
  it('every flow batch the broker acknowledged to an agent is in the store after the stop', async () => {
    const dataDir = path.join(work, 'ingest-drain');
    const agentId = 'stop-drain-1';
    // A bound far above what ingest needs here: this is about order, not speed.
    let stack = await startTestStack({ dataDir, inMemory: false, drainMs: 120_000 });
    const deps = createIngestDeps(stack.config);
    const { password } = await deps.agents.register(DEFAULT_TENANT, agentId);
    destroyStoreClients(deps.clients);
    const client = await mqtt.connectAsync(stack.mqttUrl, {
      clientId: agentId,
      username: agentId,
      password,
      reconnectPeriod: 0,
    });
    // aedes acknowledges each batch once it has it, before ingest has stored it: the stop
    // comes right after the last PUBACK, with ingest still behind.
    const batches = [...packFlowBatches(agentId, sampleFlows(1500), { maxRecords: 10 })];
    await Promise.all(
      batches.map((batch) =>
        client.publishAsync(agentTopic(agentId, 'flows'), batch.payload, { qos: 1 }),
      ),
    );
    const behind = batches.length - stack.ingest.stats().stored;
    await client.endAsync(true);
    await stack.stop();

    stack = await startTestStack({ dataDir, inMemory: false });
    try {
      const again = createIngestDeps(stack.config);
      expect({
        behind: behind > 0,
        stored: await again.flows.count(DEFAULT_TENANT, agentId),
      }).toEqual({
        behind: true,
        stored: 1500,
      });
      destroyStoreClients(again.clients);
    } finally {
      await stack.stop();
    }
  });
});
