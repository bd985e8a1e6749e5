/**
 * `wirefleet ingest redrive` end to end. SQS is aws-sdk-client-mock over a
 * small in-memory queue (receive with visibility timeout, batch delete,
 * visibility changes): the npm SQS emulators (sqslite 2.1.1, elasticmq 0.7.1)
 * speak only the query protocol, and SDK v3 speaks JSON. CloudFormation is
 * mocked too (it cannot run here). The store is real: dynalite, through the
 * same ingestMessage the Lambda runs.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { runIngestRedrive } from '../../infra/cli/redrive.js';
import { startDynalite } from '../../infra/local/emulators.js';
import { agentTopic, type FlowBatch } from '../../protocol/agent-messages.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { flowRecord, heartbeat } from '../unit/ingest/fixtures.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Wirefleet-IngestDlq';
const AGENT = 'redrive-edge';

/** The in-memory queue behind the mocked SQS client. */
class MemoryQueue {
  private messages: {
    id: string;
    body: string;
    receipt?: string;
    visibleAt: number;
    receives: number;
  }[] = [];
  private clock = 0;

  send(body: string): string {
    const id = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-4000-8000-${randomBytes(6).toString('hex')}`;
    this.messages.push({ id, body, visibleAt: 0, receives: 0 });
    return id;
  }
  get bodies(): string[] {
    return this.messages.map((m) => m.body);
  }
  get visibleCount(): number {
    return this.messages.filter((m) => m.visibleAt <= this.clock).length;
  }
  receive(max: number, visibilitySec: number) {
    const ready = this.messages.filter((m) => m.visibleAt <= this.clock).slice(0, max);
    for (const m of ready) {
      m.receipt = randomBytes(16).toString('base64');
      m.visibleAt = this.clock + visibilitySec;
      m.receives++;
    }
    return ready.map((m) => ({
      MessageId: m.id,
      ReceiptHandle: m.receipt,
      Body: m.body,
      Attributes: { ApproximateReceiveCount: String(m.receives) },
    }));
  }
  delete(receipt: string): boolean {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.receipt !== receipt);
    return this.messages.length < before;
  }
  changeVisibility(receipt: string, seconds: number): boolean {
    const m = this.messages.find((x) => x.receipt === receipt);
    if (m) m.visibleAt = this.clock + seconds;
    return m !== undefined;
  }
}

const sqsMock = mockClient(SQSClient);
const cfMock = mockClient(CloudFormationClient);
let queue: MemoryQueue;
let stack: TestStack;
let clients: ReturnType<typeof createStoreClients>;
let repos: Repositories;

function wireQueue() {
  sqsMock.reset();
  sqsMock.on(ReceiveMessageCommand).callsFake(async (input) => {
    expect(input.QueueUrl).toBe(QUEUE_URL);
    expect(input.WaitTimeSeconds).toBeGreaterThan(0); // long polling
    expect(input.MaxNumberOfMessages).toBeLessThanOrEqual(10);
    return { Messages: queue.receive(input.MaxNumberOfMessages ?? 1, input.VisibilityTimeout) };
  });
  sqsMock.on(DeleteMessageBatchCommand).callsFake(async (input) => {
    const Successful: { Id: string }[] = [];
    const Failed: { Id: string; Code: string; SenderFault: boolean }[] = [];
    for (const e of input.Entries ?? []) {
      if (queue.delete(e.ReceiptHandle!)) Successful.push({ Id: e.Id! });
      else Failed.push({ Id: e.Id!, Code: 'ReceiptHandleIsInvalid', SenderFault: true });
    }
    return { Successful, Failed };
  });
  sqsMock.on(ChangeMessageVisibilityBatchCommand).callsFake(async (input) => {
    for (const e of input.Entries ?? [])
      queue.changeVisibility(e.ReceiptHandle!, e.VisibilityTimeout!);
    const entries: { Id?: string }[] = input.Entries ?? [];
    return { Successful: entries.map((e) => ({ Id: e.Id! })), Failed: [] };
  });
}

const sqsClient = () =>
  new SQSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' },
  });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

const flowBatch = (batchId: string, from: number, count: number): FlowBatch => ({
  schema: 'wirefleet.flows/1',
  batch_id: batchId,
  sent_at: 1_790_000_000,
  records: Array.from({ length: count }, (_, i) => flowRecord(from + i)),
});

/** IoT rule errorAction body. */
const ruleError = (topic: string, message: unknown) =>
  JSON.stringify({
    ruleName: 'wirefleet_ingest',
    topic,
    cloudwatchTraceId: randomBytes(16).toString('hex'),
    clientId: `wirefleet-${AGENT}`,
    base64OriginalPayload: b64(message),
    failures: [
      {
        failedAction: 'LambdaAction',
        failedResource: 'arn:aws:lambda:eu-west-1:123456789012:function:Wirefleet-Ingest',
        errorMessage: 'Failed to invoke lambda function. The error code is 429',
      },
    ],
  });

/** Lambda on-failure destination body. */
const onFailure = (topic: string, message: unknown) =>
  JSON.stringify({
    version: '1.0',
    timestamp: '2026-11-22T10:15:03.482Z',
    requestContext: {
      requestId: randomBytes(16).toString('hex'),
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Wirefleet-Ingest:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: { payload: b64(message), topic },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: 'StoreUnavailableError',
      errorMessage: 'store flows failed: ECONNREFUSED',
    },
  });

async function storedFlows() {
  const flows = await repos.flows.query('default', {
    agentId: AGENT,
    limit: 1000,
    minPackets: 0,
    sortBy: 'packets',
  });
  return flows.map((f) => f.record_id).sort();
}

const envFor = (dynamoEndpoint: string): NodeJS.ProcessEnv => ({
  DYNAMODB_ENDPOINT: dynamoEndpoint,
});

async function redrive(
  values: Parameters<typeof runIngestRedrive>[0],
  dynamoEndpoint = stack.dynamoEndpoint,
) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runIngestRedrive(values, {
    env: envFor(dynamoEndpoint),
    sqs: sqsClient(),
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  await repos.agents.register('default', AGENT);
});
afterAll(async () => {
  sqsMock.restore();
  cfMock.restore();
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});
beforeEach(() => {
  queue = new MemoryQueue();
  wireQueue();
});

describe('wirefleet ingest redrive (aws-sdk-client-mock for SQS and CloudFormation; real store in dynalite)', () => {
  it('stores both message shapes exactly once, deletes them, and keeps what it cannot store', async () => {
    const flows = agentTopic(AGENT, 'flows');
    queue.send(ruleError(flows, flowBatch('b-1', 1, 3)));
    queue.send(onFailure(flows, flowBatch('b-2', 4, 3)));
    // The same batch again, by the other route: ingest is idempotent.
    queue.send(onFailure(flows, flowBatch('b-1', 1, 3)));
    queue.send(ruleError(agentTopic(AGENT, 'heartbeat'), heartbeat(1_790_000_000)));
    queue.send(ruleError(agentTopic('never-registered', 'flows'), flowBatch('b-9', 90, 2)));
    queue.send('not a dead letter');
    queue.send(JSON.stringify({ Records: [{ eventSource: 'aws:s3' }] }));

    const first = await redrive({ 'queue-url': QUEUE_URL });
    expect(first.stdout.trim()).toBe(
      'redrive: 7 received, 3 redriven (6 flow records), 1 duplicates skipped, 0 failed, 1 rejected, 2 unparseable; 4 deleted, 3 left in the queue',
    );
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/kept .*: rejected by ingest: unknown agent "never-registered"/);
    expect(first.stderr.match(/kept .*: unparseable: /g)).toHaveLength(2);

    const expected = Array.from({ length: 6 }, (_, i) => flowRecord(i + 1).record_id).sort();
    expect(await storedFlows()).toEqual(expected);
    expect((await repos.agents.get(AGENT))?.heartbeat?.rlocs[0]?.address).toBe('198.51.100.7');
    // What is left is exactly what could not be stored, visible again at once.
    expect(queue.bodies).toHaveLength(3);
    expect(queue.visibleCount).toBe(3);
    expect(queue.bodies.some((b) => b.includes('never-registered'))).toBe(true);

    // A second run changes nothing and loses nothing.
    const second = await redrive({ 'queue-url': QUEUE_URL });
    expect(second.stdout).toMatch(/^redrive: 3 received, 0 redriven .* 0 deleted, 3 left/);
    expect(await storedFlows()).toEqual(expected);
    expect(queue.bodies).toHaveLength(3);
  });

  it('keeps every message while the store is down, stops early, and redrives them once it is back', async () => {
    const dead = await startDynalite({ host: '127.0.0.1', port: 0 });
    await dead.close();
    const flows = agentTopic(AGENT, 'flows');
    for (let i = 0; i < 5; i++)
      queue.send(ruleError(flows, flowBatch(`down-${i}`, 100 + i * 2, 2)));

    const down = await redrive({ 'queue-url': QUEUE_URL }, dead.endpoint);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(
      /0 redriven .* 3 failed, .* 0 deleted, 3 left in the queue; stopped: the store failed 3 times in a row/,
    );
    expect(down.stderr).toMatch(/kept .*: store failed: /);
    expect(queue.bodies).toHaveLength(5);
    expect(queue.visibleCount).toBe(5);

    const back = await redrive({ 'queue-url': QUEUE_URL });
    expect(back.code).toBe(0);
    expect(back.stdout.trim()).toBe(
      'redrive: 5 received, 5 redriven (10 flow records), 0 duplicates skipped, 0 failed, 0 rejected, 0 unparseable; 5 deleted, 0 left in the queue',
    );
    expect(queue.bodies).toHaveLength(0);
    const ids = await storedFlows();
    expect(new Set(ids).size).toBe(ids.length);
    for (let n = 100; n < 110; n++) expect(ids).toContain(flowRecord(n).record_id);
  });

  it('--dry-run lists what it would redrive and touches neither the store nor the queue', async () => {
    const before = await storedFlows();
    queue.send(ruleError(agentTopic(AGENT, 'flows'), flowBatch('dry-1', 500, 4)));
    queue.send('garbage');
    const dry = await redrive({ 'queue-url': QUEUE_URL, 'dry-run': true });
    expect(dry.code).toBe(1);
    expect(dry.stdout.trim()).toBe(
      'dry run: 2 received, 1 would be redriven, 1 unparseable; nothing ingested or deleted',
    );
    expect(dry.stderr).toMatch(
      /would redrive .*: wirefleet\/v1\/agents\/redrive-edge\/flows, \d+ bytes, from the iot-rule-error/,
    );
    expect(await storedFlows()).toEqual(before);
    expect(queue.bodies).toHaveLength(2);
    expect(queue.visibleCount).toBe(2);
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });

  it('--max caps how many messages one run takes', async () => {
    for (let i = 0; i < 12; i++) {
      queue.send(onFailure(agentTopic(AGENT, 'flows'), flowBatch(`max-${i}`, 700 + i, 1)));
    }
    const capped = await redrive({ 'queue-url': QUEUE_URL, max: '4' });
    expect(capped.stdout).toMatch(/^redrive: 4 received, 4 redriven/);
    expect(queue.bodies).toHaveLength(8);
  });

  it('--stack finds the queue and the tables in the stack outputs', async () => {
    cfMock.reset();
    cfMock.on(DescribeStacksCommand, { StackName: 'Wirefleet' }).resolves({
      Stacks: [
        {
          StackName: 'Wirefleet',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(0),
          Outputs: [
            { OutputKey: 'IngestDlqUrl', OutputValue: QUEUE_URL },
            { OutputKey: 'TenantsTableName', OutputValue: stack.config.tenantsTable },
            { OutputKey: 'FlowsTableName', OutputValue: stack.config.flowsTable },
          ],
        },
      ],
    });
    queue.send(ruleError(agentTopic(AGENT, 'flows'), flowBatch('stack-1', 900, 2)));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runIngestRedrive(
      { stack: 'Wirefleet' },
      {
        env: envFor(stack.dynamoEndpoint),
        sqs: sqsClient(),
        cloudFormation: new CloudFormationClient({
          region: 'eu-west-1',
          credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' },
        }),
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
      },
    );
    expect(code).toBe(0);
    expect(err.join('')).toContain(
      `redriving ${QUEUE_URL} into ${stack.config.tenantsTable} / ${stack.config.flowsTable}`,
    );
    expect(out.join('')).toMatch(/^redrive: 1 received, 1 redriven \(2 flow records\)/);
    expect(await storedFlows()).toContain(flowRecord(900).record_id);
  });

  it('refuses to guess where to read from', async () => {
    await expect(redrive({})).rejects.toThrow(/exactly one of --queue-url URL or --stack NAME/);
    await expect(redrive({ 'queue-url': QUEUE_URL, stack: 'Wirefleet' })).rejects.toThrow(
      /exactly one/,
    );
    await expect(redrive({ 'queue-url': QUEUE_URL, max: '0' })).rejects.toThrow(/--max/);
  });
});

describe('wirefleet ingest redrive as a real process', () => {
  const run = promisify(execFile);
  async function cli(args: string[], env: NodeJS.ProcessEnv) {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        [path.resolve('bin/wirefleet.js'), ...args],
        { env },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('says in one line which credentials are missing, before touching the queue (exit 2)', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-home-'));
    try {
      const env: NodeJS.ProcessEnv = Object.fromEntries(
        Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')),
      );
      const out = await cli(['ingest', 'redrive', '--queue-url', QUEUE_URL], {
        ...env,
        HOME: home,
        AWS_EC2_METADATA_DISABLED: 'true',
      });
      expect(out.code).toBe(2);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr).toMatch(
        /^wirefleet: no AWS credentials found for SQS queue https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/Wirefleet-IngestDlq: set AWS_PROFILE/,
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('refuses bad usage with exit 2', async () => {
    const out = await cli(['ingest', 'replay'], process.env);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/usage: wirefleet ingest redrive --queue-url URL \| --stack NAME/);
  });
});
