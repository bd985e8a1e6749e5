/**
 * PCAP exports as they run in AWS. The pcap-export handler runs for real
 * against dynalite and s3rver. The Lambda Invoke API cannot run here, so the
 * API's invoker is tested with aws-sdk-client-mock (said in each describe).
 */

import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newExportId } from '../../functions/pcap/export-job.js';
import {
  ExportStartError,
  LambdaExportRunner,
  lambdaExportRunnerFromEnv,
} from '../../functions/pcap/lambda-export-runner.js';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { ExportJobRepository } from '../../functions/store/export-jobs.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { readPcap } from '../../protocol/pcap.js';
import { readPcapng } from '../../protocol/pcapng.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const FUNCTION = 'Wirefleet-PcapExport';
const lambda = mockClient(LambdaClient);

let stack: TestStack;
let clients: ReturnType<typeof createStoreClients>;
let repos: Repositories;
let jobs: ExportJobRepository;
let exportHandler: typeof import('../../functions/handlers/pcap-export.js')['handler'];
let apiHandler: typeof import('../../functions/handlers/api.js')['handler'];
const savedEnv: Record<string, string | undefined> = {};
const ROUTED = 12;
const lambdaContext = { getRemainingTimeInMillis: () => 300_000 };

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
  jobs = new ExportJobRepository(clients, stack.config.flowsTable);
  for (let i = 0; i < ROUTED; i++) {
    await stack.api('/api/v1/route', { method: 'POST', json: { query: `Explain item ${i}` } });
  }
  const env = {
    DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
    S3_ENDPOINT: stack.s3Endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'error',
    PCAP_EXPORT_FUNCTION: FUNCTION,
  };
  for (const [key, value] of Object.entries(env)) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
  // Both handlers read their environment once, at import.
  ({ handler: exportHandler } = await import('../../functions/handlers/pcap-export.js'));
  ({ handler: apiHandler } = await import('../../functions/handlers/api.js'));
});
afterAll(async () => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  lambda.restore();
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});
afterEach(() => lambda.reset());

async function objectBytes(key: string): Promise<Uint8Array> {
  const out = await clients.s3.send(
    new GetObjectCommand({ Bucket: stack.config.pcapBucket, Key: key }),
  );
  return out.Body!.transformToByteArray();
}

describe('functions/handlers/pcap-export.ts against dynalite and s3rver', () => {
  it('builds the file a job asks for into S3 and records it; a second delivery does nothing', async () => {
    const exportId = newExportId();
    await jobs.create(
      DEFAULT_TENANT,
      exportId,
      { count: 10, format: 'pcap', filter: {} },
      Date.now() / 1000,
    );
    const ref = { tenant: DEFAULT_TENANT, export_id: exportId };
    expect(await exportHandler(ref, lambdaContext)).toEqual({
      status: 'done',
      export_id: exportId,
    });

    const job = await jobs.get(DEFAULT_TENANT, exportId, Date.now() / 1000);
    expect(job).toMatchObject({ status: 'done', packets: 10 });
    expect(job!.file!.key).toMatch(new RegExp(`^tenants/${DEFAULT_TENANT}/pcaps/\\d{8}/`));
    const bytes = await objectBytes(job!.file!.key);
    expect(bytes.length).toBe(job!.bytes);
    const records = [...readPcap(bytes)];
    expect(records).toHaveLength(10);
    // The newest 10 of 12, in time order.
    const newest = (await repos.packets.recent(DEFAULT_TENANT, 10)).reverse();
    records.forEach((record, i) => {
      expect(Buffer.from(record.data).equals(Buffer.from(newest[i]!.frame))).toBe(true);
    });

    // Lambda may deliver an asynchronous event twice: the job is built once.
    expect(await exportHandler(ref, lambdaContext)).toEqual({
      status: 'skipped',
      export_id: exportId,
    });
  });

  it('writes pcapng with the filter the job carries', async () => {
    const exportId = newExportId();
    const model = (await repos.packets.recent(DEFAULT_TENANT, 1))[0]!.model;
    const matching = (await repos.packets.recent(DEFAULT_TENANT, 100, { model })).length;
    await jobs.create(
      DEFAULT_TENANT,
      exportId,
      { count: 1000, format: 'pcapng', filter: { model } },
      Date.now() / 1000,
    );
    await exportHandler({ tenant: DEFAULT_TENANT, export_id: exportId }, lambdaContext);
    const job = await jobs.get(DEFAULT_TENANT, exportId, Date.now() / 1000);
    expect(job?.status).toBe('done');
    const packets = [...readPcapng(await objectBytes(job!.file!.key))].filter(
      (block) => block.type === 'epb',
    );
    expect(packets).toHaveLength(matching);
    expect(matching).toBeGreaterThan(0);
    for (const block of packets) {
      if (block.type === 'epb') expect(JSON.parse(block.comments[0]!).model_name).toBe(model);
    }
    expect(job!.packets).toBe(matching);
  });

  it('refuses an event that is not {tenant, export_id}, without retrying', async () => {
    for (const event of [
      {},
      { tenant: 'default' },
      { tenant: 'default', export_id: '../x' },
      'x',
    ]) {
      expect((await exportHandler(event, lambdaContext)).status).toBe('rejected');
    }
  });
});

describe('LambdaExportRunner (aws-sdk-client-mock: the Lambda Invoke API cannot run here)', () => {
  const ref = { tenant: 'acme', export_id: 'exp_0123456789abcdef01234567' };

  it('invokes PCAP_EXPORT_FUNCTION asynchronously (Event) with the job as JSON', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const runner = lambdaExportRunnerFromEnv(
      { PCAP_EXPORT_FUNCTION: FUNCTION },
      { region: 'eu-west-1' },
    );
    await runner!.start(ref);
    const input = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.FunctionName).toBe(FUNCTION);
    expect(input.InvocationType).toBe('Event');
    expect(JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'))).toEqual(ref);
  });

  it('is absent without PCAP_EXPORT_FUNCTION', () => {
    expect(lambdaExportRunnerFromEnv({})).toBeUndefined();
  });

  it('fails with ExportStartError when Lambda refuses or answers anything but 202', async () => {
    const runner = new LambdaExportRunner(new LambdaClient({ region: 'eu-west-1' }), FUNCTION);
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    await expect(runner.start(ref)).rejects.toThrow(
      new ExportStartError(`could not invoke ${FUNCTION}: TooManyRequestsException`),
    );
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });
    await expect(runner.start(ref)).rejects.toBeInstanceOf(ExportStartError);
  });
});

describe('the AWS flow end to end: API Lambda → Invoke (aws-sdk-client-mock) → pcap-export Lambda → status → file', () => {
  const event = (path: string, headers: Record<string, string>): APIGatewayProxyEventV2 => {
    const [rawPath = '/', rawQueryString = ''] = path.split('?');
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString,
      headers: {
        authorization: `Bearer ${stack.token}`,
        host: 'abc123.execute-api.eu-west-1.amazonaws.com',
        'x-forwarded-proto': 'https',
        ...headers,
      },
      ...(rawQueryString
        ? { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) }
        : {}),
      requestContext: {
        accountId: '123456789012',
        apiId: 'abc123',
        domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
        domainPrefix: 'abc123',
        http: {
          method: 'GET',
          path: rawPath,
          protocol: 'HTTP/1.1',
          sourceIp: '203.0.113.7',
          userAgent: 'curl/8',
        },
        requestId: `req-${Math.random()}`,
        routeKey: '$default',
        stage: '$default',
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
      },
      isBase64Encoded: false,
    };
  };
  const invokeApi = (e: APIGatewayProxyEventV2) =>
    apiHandler(e as unknown as Parameters<typeof apiHandler>[0], {} as Context);

  it('answers 202, hands the job to the export function, and redirects to the file once it is built', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const accepted = await invokeApi(
      event('/api/v1/packets/download/pcap?count=100000', { prefer: 'respond-async' }),
    );
    expect(accepted.statusCode).toBe(202);
    const body = JSON.parse(accepted.body) as { export_id: string; status_url: string };
    expect(body.status_url).toBe(
      `https://abc123.execute-api.eu-west-1.amazonaws.com/api/v1/packets/exports/${body.export_id}`,
    );

    // What Lambda would deliver to the export function.
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const payload = JSON.parse(
      Buffer.from(calls[0]!.args[0].input.Payload as Uint8Array).toString(),
    );
    expect(payload).toEqual({ tenant: DEFAULT_TENANT, export_id: body.export_id });

    const pending = await invokeApi(
      event(`/api/v1/packets/exports/${body.export_id}`, { accept: 'application/json' }),
    );
    expect(JSON.parse(pending.body).status).toBe('queued');

    await exportHandler(payload, lambdaContext);

    const done = await invokeApi(event(`/api/v1/packets/exports/${body.export_id}`, {}));
    expect(done.statusCode).toBe(302);
    const location = String((done.headers as Record<string, string>).location);
    const file = await fetch(location);
    expect(file.status).toBe(200);
    expect([...readPcap(new Uint8Array(await file.arrayBuffer()))]).toHaveLength(ROUTED);
  });
});
