/**
 * The AWS IoT Data Plane cannot run here (no emulator speaks it), so its
 * client is replaced by aws-sdk-client-mock in every test of this file. The
 * store, the API and the Lambda handler around it are real (dynalite, s3rver).
 */
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import {
  CommandPublishError,
  IotCommandPublisher,
  IotDataEndpointError,
  iotCommandPublisherFromEnv,
} from '../../functions/api/iot-command-publisher.js';
import { silentLogger } from '../../functions/logger.js';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { type AgentCommand, commandSchema } from '../../protocol/agent-messages.js';
import { apiGatewayV2Event, lambdaContext } from '../helpers/lambda-events.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const HOST = 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com';
const iot = mockClient(IoTDataPlaneClient);

let stack: TestStack;
let clients: ReturnType<typeof createStoreClients>;
let repos: Repositories;

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  repos = createRepositories(clients, stack.config);
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
  iot.restore();
});
afterEach(() => iot.reset());

const command = (patch: Partial<AgentCommand> = {}): AgentCommand =>
  commandSchema.parse({
    action: 'capture.start',
    params: { interface: 'eth0', filter_expr: 'udp port 4341' },
    command_id: 'cmd_0123456789abcdef01234567',
    issued_at: 1_790_000_000,
    ...patch,
  });

describe('IotCommandPublisher (aws-sdk-client-mock: the IoT Data Plane cannot run here)', () => {
  it('publishes QoS 1, not retained, the command as JSON bytes on the agent commands topic', async () => {
    iot.on(PublishCommand).resolves({});
    const publisher = iotCommandPublisherFromEnv({
      IOT_DATA_ENDPOINT: HOST,
      AWS_REGION: 'eu-west-1',
    });
    expect(publisher).toBeInstanceOf(IotCommandPublisher);
    const sent = command();
    await publisher!.publish('edge-7', sent);

    const calls = iot.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.topic).toBe('wirefleet/v1/agents/edge-7/commands');
    expect(input.qos).toBe(1);
    expect(input.retain).toBe(false);
    expect(input.contentType).toBe('application/json');
    expect(Buffer.from(input.payload as Uint8Array).toString('utf8')).toBe(JSON.stringify(sent));
    expect(
      commandSchema.parse(JSON.parse(Buffer.from(input.payload as Uint8Array).toString('utf8'))),
    ).toEqual(sent);
  });

  it('sends to https://IOT_DATA_ENDPOINT, never the SDK default endpoint', async () => {
    iot.on(PublishCommand).resolves({});
    await iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: ` ${HOST} ` })!.publish(
      'edge-7',
      command(),
    );
    const client = iot.send.getCall(0).thisValue as IoTDataPlaneClient;
    const endpoint = await client.config.endpoint!();
    expect(endpoint.protocol).toBe('https:');
    expect(endpoint.hostname).toBe(HOST);
    // The region comes from the host when the environment names none.
    expect(await client.config.region()).toBe('eu-west-1');
  });

  it('is absent without IOT_DATA_ENDPOINT and refuses an endpoint that is not a host name', () => {
    expect(iotCommandPublisherFromEnv({})).toBeUndefined();
    expect(iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: '  ' })).toBeUndefined();
    for (const bad of [`https://${HOST}`, `${HOST}/mqtt`, `${HOST}:8443`, 'localhost']) {
      expect(() => iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: bad })).toThrow(
        IotDataEndpointError,
      );
    }
  });

  it('refuses a command over the 128 KB IoT Core limit without calling AWS', async () => {
    iot.on(PublishCommand).resolves({});
    const publisher = iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: HOST })!;
    // Bigger than any command the API can accept (its bodies stop at 64 KiB), so built by hand.
    const huge = { ...command(), params: { filter_expr: 'x'.repeat(130 * 1024) } } as AgentCommand;
    await expect(publisher.publish('edge-7', huge)).rejects.toThrow(/at most 131072/);
    expect(iot.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('turns an SDK failure into one CommandPublishError that names the topic and the cause', async () => {
    iot
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const error = await iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: HOST })!
      .publish('edge-7', command())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandPublishError);
    expect((error as Error).message).toMatch(
      /wirefleet\/v1\/agents\/edge-7\/commands failed: ThrottlingException \(Rate exceeded\)/,
    );
  });
});

describe('POST /agents/{id}/commands through the IoT publisher (aws-sdk-client-mock for the IoT Data Plane; real store)', () => {
  const appWith = () =>
    createApp(
      createAppDeps(stack.config, {
        clients,
        repositories: repos,
        logger: silentLogger,
        commandPublisher: iotCommandPublisherFromEnv({ IOT_DATA_ENDPOINT: HOST })!,
      }),
    );
  const call = (app: ReturnType<typeof createApp>, path: string, init: RequestInit = {}) =>
    app.request(`/api/v1${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${stack.token}`,
        'Content-Type': 'application/json',
      },
    });

  beforeAll(async () => {
    await repos.agents.register('default', 'iot-edge-1');
  });

  it('answers 202 pending once IoT Core accepted the publish', async () => {
    iot.on(PublishCommand).resolves({});
    const app = appWith();
    const res = await call(app, '/agents/iot-edge-1/commands', {
      method: 'POST',
      body: JSON.stringify({ action: 'status', params: {} }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { command_id: string; status: string };
    expect(body.status).toBe('pending');
    const input = iot.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input.topic).toBe('wirefleet/v1/agents/iot-edge-1/commands');
    expect(JSON.parse(Buffer.from(input.payload as Uint8Array).toString('utf8')).command_id).toBe(
      body.command_id,
    );
    const stored = await call(app, `/agents/iot-edge-1/commands/${body.command_id}`);
    expect(((await stored.json()) as { status: string }).status).toBe('pending');
  });

  it('answers 503 command_channel_unavailable and closes the command when the publish fails', async () => {
    iot
      .on(PublishCommand)
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'ForbiddenException' }));
    const app = appWith();
    const res = await call(app, '/agents/iot-edge-1/commands', {
      method: 'POST',
      body: JSON.stringify({ action: 'status', params: {} }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('command_channel_unavailable');
    const commandId = /(cmd_[0-9a-f]+)/.exec(body.error.message)![1]!;
    const stored = (await (await call(app, `/agents/iot-edge-1/commands/${commandId}`)).json()) as {
      status: string;
      reply: { error: { code: string } };
    };
    expect(stored.status).toBe('error');
    expect(stored.reply.error.code).toBe('publish_failed');
    // The SDK error stays in the server log, never in the answer.
    expect(JSON.stringify(body)).not.toMatch(/ForbiddenException|authorized/);
  });
});

describe('Lambda API handler with IOT_DATA_ENDPOINT (aws-sdk-client-mock for the IoT Data Plane; real store)', () => {
  it('publishes commands through the IoT Data Plane instead of answering 503', async () => {
    iot.on(PublishCommand).resolves({});
    const env = {
      DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
      S3_ENDPOINT: stack.s3Endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      LOG_LEVEL: 'error',
      IOT_DATA_ENDPOINT: HOST,
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      // The handler reads its environment once, at import: no other test here imports it.
      const { handler } = await import('../../functions/handlers/api.js');
      const event = apiGatewayV2Event('POST', '/api/v1/agents/iot-edge-1/commands', {
        bearer: stack.token,
        body: JSON.stringify({ action: 'status', params: {} }),
      });
      // Hono's own event type wants fields real HTTP API events may omit (see lambda-handler.test.ts).
      const result = await handler(
        event as unknown as Parameters<typeof handler>[0],
        lambdaContext('wirefleet-api') as Context,
      );
      expect(result.statusCode).toBe(202);
      const calls = iot.commandCalls(PublishCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input.topic).toBe('wirefleet/v1/agents/iot-edge-1/commands');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
