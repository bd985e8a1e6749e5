import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../protocol/pcap.js';
import { apiGatewayV2Event, lambdaContext } from '../helpers/lambda-events.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

type Handler = typeof import('../../functions/handlers/api.js')['handler'];
type Result = Awaited<ReturnType<Handler>>;
/**
 * Hono declares its own event type (`body: string | null`, `requestContext.authorizer` required);
 * real HTTP API events, like @types/aws-lambda, may omit both, so the event is passed as is.
 */
type HonoLambdaEvent = Parameters<Handler>[0];

const ENV = {
  DYNAMODB_ENDPOINT: '',
  S3_ENDPOINT: '',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  LOG_LEVEL: 'error',
};

let stack: TestStack;
let handler: Handler;
const savedEnv: Record<string, string | undefined> = {};

/** lambda-events' context plus the methods the Lambda runtime adds. */
const invocationContext = (): Context => ({
  ...lambdaContext('wirefleet-api'),
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

/** A real-shaped HTTP API event, with the stack's token unless told otherwise. */
const httpEvent = (
  method: string,
  pathWithQuery: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 =>
  apiGatewayV2Event(method, pathWithQuery, {
    bearer: options.token === undefined ? stack.token : options.token,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });

const invoke = (event: APIGatewayProxyEventV2): Promise<Result> =>
  handler(event as unknown as HonoLambdaEvent, invocationContext());
const json = (result: Result) => JSON.parse(result.body) as Record<string, unknown>;
const header = (result: Result, name: string) => {
  const headers = (result.headers ?? {}) as Record<string, string | string[]>;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
};

beforeAll(async () => {
  stack = await startTestStack();
  ENV.DYNAMODB_ENDPOINT = stack.dynamoEndpoint;
  ENV.S3_ENDPOINT = stack.s3Endpoint;
  for (const [key, value] of Object.entries(ENV)) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
  ({ handler } = await import('../../functions/handlers/api.js'));
});

afterAll(async () => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await stack?.stop();
});

describe('Lambda handler (API Gateway HTTP API v2) against the local stack', () => {
  let packetId: string;

  it('GET /api/v1/health answers 200 without a token', async () => {
    const result = await invoke(httpEvent('GET', '/api/v1/health', { token: null }));
    expect(result.statusCode).toBe(200);
    expect(json(result)).toMatchObject({ status: 'ok' });
    expect(header(result, 'content-type')).toMatch(/application\/json/);
  });

  it('POST /api/v1/route answers 200 with a stored lisp_packet', async () => {
    const result = await invoke(
      httpEvent('POST', '/api/v1/route', {
        body: { query: 'Write a Python function to calculate factorial', priority: 'medium' },
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    const body = json(result) as {
      selected_model: string;
      lisp_packet: { packet_id: string; instance_id: number; lisp_header: { flags: string } };
    };
    expect(body.selected_model).toBe('phi3-local');
    expect(body.lisp_packet.packet_id).toMatch(/^[0-9a-f]{16}$/);
    expect(body.lisp_packet.lisp_header.flags).toBe('0xc8');
    expect(body.lisp_packet.instance_id).toBe(1);
    packetId = body.lisp_packet.packet_id;
  });

  it('GET /api/v1/packets/{id} returns the same packet', async () => {
    const result = await invoke(httpEvent('GET', `/api/v1/packets/${packetId}`));
    expect(result.statusCode).toBe(200);
    const body = json(result) as { packet: { packet_id: string }; frame_hex: string };
    expect(body.packet.packet_id).toBe(packetId);
    expect(body.frame_hex).toMatch(/^[0-9a-f]+$/);
  });

  it.each([
    ['no authorization header', null, 'missing_token'],
    ['a wrong token', 'not-the-token', 'invalid_token'],
  ])('answers 401 {error:{code,message}} with %s', async (_, token, code) => {
    const result = await invoke(httpEvent('GET', '/api/v1/packets/recent', { token }));
    expect(result.statusCode).toBe(401);
    const body = json(result) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(header(result, 'www-authenticate')).toMatch(/^Bearer realm="wirefleet"/);
  });

  it('GET /api/v1/packets/download/pcap with accept JSON answers 200 with a working url', async () => {
    const result = await invoke(
      httpEvent('GET', '/api/v1/packets/download/pcap?count=5', {
        headers: { accept: 'application/json' },
      }),
    );
    expect(result.statusCode).toBe(200);
    const body = json(result) as { url: string; packets: number; content_type: string };
    expect(body.url).toMatch(new RegExp(`^${stack.s3Endpoint}/`));
    expect(body.packets).toBe(1);
    expect(body.content_type).toBe('application/vnd.tcpdump.pcap');
    const file = new Uint8Array(await (await fetch(body.url)).arrayBuffer());
    const frames = [...readPcap(file)];
    expect(frames).toHaveLength(1);
  });

  it('GET /api/v1/packets/download/pcap without accept JSON answers 302 with a location', async () => {
    const result = await invoke(httpEvent('GET', '/api/v1/packets/download/pcap'));
    expect(result.statusCode).toBe(302);
    const location = header(result, 'location');
    expect(location).toBeDefined();
    expect(location).toMatch(new RegExp(`^${stack.s3Endpoint}/wirefleet-pcaps/tenants/default/`));
    expect(header(result, 'cache-control')).toBe('no-store');
  });
});
