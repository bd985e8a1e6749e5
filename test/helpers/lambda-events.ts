import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

let invocations = 0;

/** The serialisable part of a Lambda context (infra/cloud/lambda-host.mjs adds the methods). */
export function lambdaContext(
  functionName: string,
): Omit<Context, 'getRemainingTimeInMillis' | 'done' | 'fail' | 'succeed'> {
  invocations++;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: `00000000-0000-4000-8000-${String(invocations).padStart(12, '0')}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef',
  };
}

/** An API Gateway HTTP API (payload format 2.0) event as the `$default` route delivers it. */
export function apiGatewayV2Event(
  method: string,
  pathWithQuery: string,
  options: { bearer?: string | null; body?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const [rawPath = '/', rawQueryString = ''] = pathWithQuery.split('?');
  const now = Date.now();
  const headers: Record<string, string> = {
    accept: '*/*',
    host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'vitest',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https',
    ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
    ...(options.body !== undefined
      ? {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(options.body)),
        }
      : {}),
    ...options.headers,
  };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(rawQueryString
      ? { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) }
      : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'vitest',
      },
      requestId: `req-${invocations}-${now}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: false,
  };
}

/**
 * What the ingest topic rule delivers for one MQTT message: `SELECT encode(*, 'base64') AS
 * payload, topic() AS topic FROM 'wirefleet/v1/agents/+/+'`. An object is sent as JSON; a string
 * or bytes as they are.
 */
export function iotRuleEvent(
  agentId: string,
  channel: string,
  message: unknown,
): { payload: string; topic: string } {
  const bytes =
    typeof message === 'string' || message instanceof Uint8Array
      ? Buffer.from(message)
      : Buffer.from(JSON.stringify(message));
  return { payload: bytes.toString('base64'), topic: `wirefleet/v1/agents/${agentId}/${channel}` };
}
