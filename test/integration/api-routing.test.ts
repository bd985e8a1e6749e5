import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../functions/routing/mappings.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const expectError = async (res: Response, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|\.ts:\d+/); // no stack traces
  return body;
};

describe('health, docs and auth', () => {
  it('serves /health without a token', async () => {
    const res = await stack.api('/api/v1/health', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('serves the OpenAPI document and the docs page with local assets', async () => {
    const doc = (await (await stack.api('/openapi.json', { token: null })).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['/api/v1/route', '/api/v1/mappings', '/api/v1/packets/download/pcap']) {
      expect(doc.paths).toHaveProperty([p]);
    }
    const page = await (await stack.api('/docs', { token: null })).text();
    expect(page).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await stack.api('/docs/assets/swagger-ui-bundle.js', { token: null });
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });

  it('answers 401 for a missing or wrong token', async () => {
    const missing = await stack.api('/api/v1/packets/stats', { token: null });
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectError(missing, 401, 'missing_token');
    await expectError(
      await stack.api('/api/v1/packets/stats', { token: 'wf_nope' }),
      401,
      'invalid_token',
    );
    await expectError(
      await stack.api('/api/v1/packets/stats', {
        headers: { Authorization: 'Basic abc' },
        token: null,
      }),
      401,
      'invalid_token',
    );
  });

  it('answers unknown paths with a JSON 404', async () => {
    await expectError(await stack.api('/api/v1/nope'), 404, 'not_found');
    await expectError(await stack.api('/nope', { token: null }), 404, 'not_found');
  });
});

describe('POST /route', () => {
  it('routes the seed example to phi3-local and returns the seed fields', async () => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: {
        query: 'Write a Python function to calculate factorial',
        source_eid: '10.1.0.5',
        priority: 'medium',
      },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.selected_model).toBe('phi3-local');
    expect(body.endpoint).toBe('127.0.0.1');
    expect(body.workload_type).toBe('code_generation');
    expect(body.reasons.join(' ')).toMatch(/python/);
    const p = body.lisp_packet;
    expect(p.packet_id).toMatch(/^[0-9a-f]{16}$/);
    expect(Math.abs(p.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(p.outer_header).toMatchObject({
      src_ip: '192.168.0.1',
      dst_ip: '127.0.0.1',
      dst_port: 4341,
    });
    expect(p.outer_header.src_port).toBeGreaterThanOrEqual(49152);
    expect(p.lisp_header).toMatchObject({
      flags: '0xc8',
      flag_names: 'N|L|I',
      instance_id: 1,
      lsb: 1,
    });
    expect(p.lisp_header.nonce).toBeLessThan(2 ** 24);
    expect(p.inner_header).toMatchObject({ src_ip: '10.1.0.5', dst_ip: '10.4.0.101' });
    expect(p.metadata).toMatchObject({
      workload_type: 'code_generation',
      model_name: 'phi3-local',
    });
    expect(p.metadata.query_hash).toMatch(/^[0-9a-f]{8}$/);
    expect(p.metadata.payload_size).toBeGreaterThan(40);
  });

  it('defaults source_eid and priority', async () => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query: 'hello there' },
    });
    const body = (await res.json()) as Record<string, any>;
    expect(body.lisp_packet.inner_header.src_ip).toBe('10.0.0.1');
    expect(body.lisp_packet.metadata.priority).toBe('medium');
  });

  it('keeps private queries on local models', async () => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query: 'Summarise this confidential patient record', priority: 'high' },
    });
    const body = (await res.json()) as Record<string, any>;
    expect(body.workload_type).toBe('local_private');
    expect(['llama3.2-local', 'phi3-local']).toContain(body.selected_model);
  });

  it('truncates a long query so the frame fits a 1500-byte MTU', async () => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query: 'why '.repeat(5000) },
    });
    const body = (await res.json()) as Record<string, any>;
    expect(body.lisp_packet.metadata.query_truncated).toBe(true);
    expect(body.lisp_packet.metadata.frame_size).toBeLessThanOrEqual(1514);
  });

  it.each([
    ['malformed JSON', '{"query": ', 400, 'invalid_json'],
    ['a non-object body', '[1,2]', 400, 'invalid_request'],
    ['a missing query', '{}', 400, 'invalid_request'],
    ['an empty query', '{"query":"   "}', 400, 'invalid_request'],
    ['a numeric query', '{"query":42}', 400, 'invalid_request'],
    ['an invalid EID', '{"query":"x","source_eid":"10.1.0.300"}', 400, 'invalid_request'],
    ['a multicast EID', '{"query":"x","source_eid":"239.1.1.1"}', 400, 'invalid_request'],
    ['an unknown priority', '{"query":"x","priority":"urgent"}', 400, 'invalid_request'],
    ['an unknown field', '{"query":"x","tenant":"other"}', 400, 'invalid_request'],
  ])('rejects %s', async (_name, body, status, code) => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    const err = await expectError(res, status, code);
    if (code === 'invalid_request')
      expect(err.error.message).toMatch(/query|source_eid|priority|Unrecognized|object/i);
  });

  it('rejects oversized bodies with 413 and wrong content types with 415', async () => {
    await expectError(
      await stack.api('/api/v1/route', { method: 'POST', json: { query: 'x'.repeat(70 * 1024) } }),
      413,
      'payload_too_large',
    );
    await expectError(
      await stack.api('/api/v1/route', {
        method: 'POST',
        body: 'query=x',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'unsupported_media_type',
    );
  });
});

describe('mappings', () => {
  it('returns the seed defaults, then a validated replacement that routing uses', async () => {
    const initial = (await (await stack.api('/api/v1/mappings')).json()) as Record<string, any>;
    expect(initial.is_default).toBe(true);
    expect(initial.instance_id).toBe(1);
    expect(initial.eid_prefixes.map((p: { prefix: string }) => p.prefix)).toEqual(
      expect.arrayContaining(['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16']),
    );

    // Take 127.0.0.1 out of service (priority 255) and add a backup RLOC for the local models.
    const next = structuredClone(DEFAULT_MAPPINGS);
    const local = next.eid_prefixes.find((p) => p.prefix === '10.4.0.0/16')!;
    local.locators = [
      { rloc: '127.0.0.1', priority: 255, weight: 100, reachable: true },
      { rloc: '172.16.0.9', priority: 2, weight: 100, reachable: true },
    ];
    const put = await stack.api('/api/v1/mappings', { method: 'PUT', json: next });
    expect(put.status).toBe(200);
    const route = (await (
      await stack.api('/api/v1/route', {
        method: 'POST',
        json: { query: 'Write a Python function' },
      })
    ).json()) as Record<string, any>;
    expect(route.selected_model).toBe('phi3-local');
    expect(route.endpoint).toBe('172.16.0.9');
    const after = (await (await stack.api('/api/v1/mappings')).json()) as Record<string, any>;
    expect(after.is_default).toBe(false);

    await stack.api('/api/v1/mappings', { method: 'PUT', json: DEFAULT_MAPPINGS });
  });

  it('rejects invalid mappings with a message naming the field', async () => {
    const bad = structuredClone(DEFAULT_MAPPINGS) as any;
    bad.eid_prefixes[0].locators[0].priority = 300;
    const err = await expectError(
      await stack.api('/api/v1/mappings', { method: 'PUT', json: bad }),
      400,
      'invalid_request',
    );
    expect(err.error.message).toContain('eid_prefixes.0.locators.0.priority');

    const hostBits = structuredClone(DEFAULT_MAPPINGS) as any;
    hostBits.eid_prefixes[0].prefix = '10.1.0.1/16';
    const err2 = await expectError(
      await stack.api('/api/v1/mappings', { method: 'PUT', json: hostBits }),
      400,
      'invalid_request',
    );
    expect(err2.error.message).toMatch(/host bits/);
  });
});
