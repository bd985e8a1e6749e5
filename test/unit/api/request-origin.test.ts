import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestOrigin } from '../../../functions/api/request-origin.js';

/** Custody entries name where a request came from, as each runtime reports it. */
describe('requestOrigin', () => {
  const app = new Hono().get('/', (c) => c.json(requestOrigin(c)));
  const origin = async (env: unknown, headers: Record<string, string> = {}) =>
    (await app.request('/', { headers }, env as never)).json();

  it('takes API Gateway’s sourceIp in Lambda', async () => {
    const env = { requestContext: { http: { sourceIp: '203.0.113.7' } } };
    expect(await origin(env, { 'user-agent': 'curl/8' })).toEqual({
      source_ip: '203.0.113.7',
      user_agent: 'curl/8',
    });
  });

  it('takes the socket address in Node, and never X-Forwarded-For (the client writes that)', async () => {
    const env = { incoming: { socket: { remoteAddress: '::ffff:127.0.0.1' } } };
    expect(await origin(env, { 'x-forwarded-for': '198.51.100.1' })).toEqual({
      source_ip: '::ffff:127.0.0.1',
    });
    expect(await origin(undefined, { 'x-forwarded-for': '198.51.100.1' })).toEqual({});
  });

  it('keeps at most 256 characters of the user agent', async () => {
    const body = (await origin({}, { 'user-agent': 'x'.repeat(1000) })) as { user_agent: string };
    expect(body.user_agent).toHaveLength(256);
  });
});
