import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiRequestError,
  apiUrl,
  createApiClient,
  errorFromResponse,
} from '../../../web/src/api/client.js';
import { apiPathOf, requestCaptureLink } from '../../../web/src/api/downloads.js';
import { fieldErrors } from '../../../web/src/api/field-errors.js';

/**
 * The console's API client over real HTTP (node:http on a free port, real
 * fetch): what it sends, and how it reads answers and failures.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let exportPolls = 0;

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const url = new URL(req.url!, 'http://x');
      if (req.headers.authorization !== 'Bearer good-token') {
        return reply(res, 401, {
          error: { code: 'invalid_token', message: 'the bearer token is not valid' },
        });
      }
      switch (url.pathname) {
        case '/api/v1/echo':
          return reply(res, 200, {
            query: Object.fromEntries(url.searchParams),
            body: body ? JSON.parse(body) : null,
          });
        case '/api/v1/bad':
          return reply(res, 400, {
            error: { code: 'invalid_request', message: 'source_eid: must be unicast' },
          });
        case '/api/v1/proxy-error':
          res.writeHead(502, { 'Content-Type': 'text/html' });
          return res.end('<html>Bad Gateway</html>');
        case '/api/v1/packets/download/pcap':
          if (req.headers.prefer === 'respond-async') {
            return reply(
              res,
              202,
              {
                export_id: 'e1',
                status: 'queued',
                status_url: `${base}/api/v1/packets/exports/e1`,
              },
              { 'Retry-After': '1' },
            );
          }
          return reply(res, 200, {
            url: 'http://s3/x',
            filename: 'lisp_packets_1.pcap',
            packets: 3,
            bytes: 99,
            expires_at: '',
          });
        case '/api/v1/packets/exports/e1':
          exportPolls++;
          return exportPolls < 2
            ? reply(
                res,
                200,
                { export_id: 'e1', status: 'running', packets: 10 },
                { 'Retry-After': '1' },
              )
            : reply(res, 200, {
                export_id: 'e1',
                status: 'done',
                url: 'http://s3/y',
                filename: 'lisp_packets_2.pcapng',
                packets: 20,
                bytes: 999,
                expires_at: '2026-01-01T00:00:00Z',
              });
        case '/api/v1/packets/exports/e2':
          return reply(res, 200, {
            export_id: 'e2',
            status: 'failed',
            error: { code: 'export_interrupted', message: 'the export stopped' },
          });
        default:
          return reply(res, 404, {
            error: { code: 'not_found', message: `no route for ${url.pathname}` },
          });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = (token = 'good-token', onUnauthorized?: (e: ApiRequestError) => void) =>
  createApiClient({
    token,
    baseUrl: `${base}/api/v1`,
    ...(onUnauthorized ? { onUnauthorized } : {}),
  });

describe('console API client (real HTTP)', () => {
  it('builds URLs under /api/v1 and leaves out empty parameters', () => {
    expect(
      apiUrl('/api/v1', '/packets/recent', { limit: 50, model: undefined, workload_type: '' }),
    ).toBe('/api/v1/packets/recent?limit=50');
    expect(() => apiUrl('/api/v1', 'packets', {})).toThrow('start with "/"');
  });

  it('sends the bearer token and JSON, and reads JSON back', async () => {
    const res = await client().post<{ body: unknown }>('/echo', { query: 'hi' });
    expect(res.status).toBe(200);
    expect(res.data.body).toEqual({ query: 'hi' });
    const last = seen.at(-1)!;
    expect(last.headers.authorization).toBe('Bearer good-token');
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers.accept).toBe('application/json');
    const got = await client().get<{ query: Record<string, string> }>('/echo', {
      limit: 5,
      since: undefined,
    });
    expect(got.data.query).toEqual({ limit: '5' });
  });

  it("turns an API error into ApiRequestError with the API's code and message", async () => {
    const error = await client()
      .get('/bad')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: 'source_eid: must be unicast',
    });
  });

  it('names the status when the answer is not the API’s JSON', async () => {
    const error = await client()
      .get('/proxy-error')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
    expect((error as Error).message).toContain('502');
    const direct = await errorFromResponse(new Response('nope', { status: 503 }));
    expect(direct.code).toBe('http_503');
  });

  it('calls onUnauthorized with the message on a 401, then throws', async () => {
    const calls: ApiRequestError[] = [];
    const error = await client('wrong', (e) => calls.push(e))
      .get('/echo')
      .catch((e: unknown) => e);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.message).toBe('the bearer token is not valid');
    expect(error).toMatchObject({ status: 401, code: 'invalid_token' });
  });

  it('reports an unreachable API as network_error', async () => {
    const dead = createApiClient({ token: 't', baseUrl: 'http://127.0.0.1:9/api/v1' });
    const error = await dead.get('/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: 'network_error' });
  });

  it('lets an aborted request fail as an abort, and signs nobody out', async () => {
    const calls: ApiRequestError[] = [];
    const controller = new AbortController();
    controller.abort();
    const error = await client('wrong', (e) => calls.push(e))
      .get('/echo', undefined, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(calls).toEqual([]);
  });
});

describe('console downloads (real HTTP)', () => {
  it('takes the JSON link of a small download', async () => {
    const link = await requestCaptureLink(client(), '/packets/download/pcap', { count: 3 });
    expect(link).toMatchObject({ url: 'http://s3/x', filename: 'lisp_packets_1.pcap', packets: 3 });
    expect(seen.at(-1)!.headers.accept).toBe('application/json');
    expect(seen.at(-1)!.url).toBe('/api/v1/packets/download/pcap?count=3');
  });

  it('follows an export job from 202 to done, reporting progress', async () => {
    const progress: string[] = [];
    const link = await requestCaptureLink(
      client(),
      '/packets/download/pcap',
      { count: 20_000, format: 'pcapng' },
      { preferAsync: true, onProgress: (p) => progress.push(`${p.status}:${p.packets ?? ''}`) },
    );
    expect(link).toMatchObject({
      url: 'http://s3/y',
      filename: 'lisp_packets_2.pcapng',
      packets: 20,
    });
    expect(progress).toEqual(['queued:', 'running:10']);
    const polls = seen.filter((s) => s.url === '/api/v1/packets/exports/e1');
    expect(polls).toHaveLength(2);
    expect(seen.find((s) => s.headers.prefer === 'respond-async')).toBeDefined();
  });

  it("fails with the job's own error when the export fails", async () => {
    const api = client();
    const failing = {
      ...api,
      get: <T>(
        path: string,
        query?: Record<string, string | number | undefined>,
        options?: object,
      ) =>
        path === '/packets/download/pcap'
          ? Promise.resolve({
              status: 202,
              headers: new Headers({ 'Retry-After': '1' }),
              data: {
                export_id: 'e2',
                status: 'queued',
                status_url: `${base}/api/v1/packets/exports/e2`,
              } as T,
            })
          : api.get<T>(path, query, options),
    };
    const error = await requestCaptureLink(failing, '/packets/download/pcap', { count: 1 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'export_interrupted', message: 'the export stopped' });
  });

  it('reads the API path out of a status URL', () => {
    expect(apiPathOf('https://d1.cloudfront.net/api/v1/packets/exports/abc')).toBe(
      '/packets/exports/abc',
    );
    expect(apiPathOf('/api/v1/packets/exports/abc')).toBe('/packets/exports/abc');
    expect(() => apiPathOf('https://elsewhere/x')).toThrow('not an API URL');
  });
});

describe('field errors from API messages', () => {
  it('splits "field: message; field: message" per field', () => {
    expect(fieldErrors('source_eid: must be unicast; query: must not be empty')).toEqual({
      fields: { source_eid: 'must be unicast', query: 'must not be empty' },
      rest: [],
    });
    expect(fieldErrors('models.0.eid: must be IPv4; the body is not valid JSON')).toEqual({
      fields: { 'models.0.eid': 'must be IPv4' },
      rest: ['the body is not valid JSON'],
    });
  });
});
