import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DropRateAlarm } from '../../../agent/capture/drop-alarm.js';
import { ControlError } from '../../../agent/capture/errors.js';
import type {
  BackendsResult,
  CaptureControl,
  CaptureMetrics,
  CaptureStatus,
  FirmwareReport,
  FlowQuery,
  MeterConfigureResult,
  NetflowParams,
  NetflowResult,
  StartResult,
  StopResult,
} from '../../../agent/capture/types.js';
import { createControlApp } from '../../../agent/control/app.js';
import { createAgentLogger } from '../../../agent/log.js';
import type { FlowRecord } from '../../../native/index.js';
import type { CaptureStartParams, MeterConfigureParams } from '../../../protocol/agent-messages.js';

// The control API (Hono) through app.request(): no network, no native engine. StandInController
// below is a stand-in for the native engine's CaptureController (which the integration test
// drives for real): it records what the API asked for and answers in the controller's shapes,
// so these tests check what the API itself does — auth, validation, status codes, bodies, logs.

const TOKEN = 'unit-test-token-0123456789abcdef';
const BASE = '/packet_capture/capture';

const flow = (n: number): FlowRecord => ({
  flow_id: n.toString(16).padStart(16, '0'),
  ip_version: 4,
  src_ip: '192.0.2.1',
  dst_ip: '198.51.100.2',
  src_port: 40000 + n,
  dst_port: 443,
  protocol: 6,
  vlan_id: 0,
  packets: n,
  bytes: n * 100,
  packets_fwd: n,
  packets_rev: 0,
  bytes_fwd: n * 100,
  bytes_rev: 0,
  first_seen: 1_700_000_000,
  last_seen: 1_700_000_001,
  duration_sec: 1,
  tcp_flags: 'SYN|ACK',
  state: 'ACTIVE',
  end_reason: null,
});

class StandInController implements CaptureControl {
  calls: { method: string; args: unknown[] }[] = [];
  running = false;
  failNext: Error | undefined;
  firmware: FirmwareReport = {
    status: 'valid',
    algorithm: 'Ed25519',
    addon_sha256: 'ab'.repeat(32),
    message: 'signature verified',
    verified_at: 1_700_000_000.5,
  };

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
  }

  backends(): BackendsResult {
    this.record('backends');
    return {
      available_backends: [
        {
          name: 'file',
          status: 'available',
          detail: 'pcap',
          max_throughput_gbps: null,
          cpu_overhead_pct: null,
        },
      ],
      note: 'not measured',
    };
  }
  async start(params: Partial<CaptureStartParams>, actor: string): Promise<StartResult> {
    this.record('start', params, actor);
    this.running = true;
    return {
      status: 'started',
      interface: params.interface ?? 'eth0',
      backend: params.backend ?? 'afpacket',
      buffer_size_mb: params.buffer_size_mb ?? 64,
      timestamp_source: params.timestamp_source ?? 'kernel',
      session_id: 'sess_000000000001',
    };
  }
  async stop(options: { graceful?: boolean }, actor: string): Promise<StopResult> {
    this.record('stop', options, actor);
    this.running = false;
    return {
      status: 'stopped',
      packets_captured: 10,
      packets_dropped: 0,
      bytes_captured: 1000,
      duration_sec: 1.5,
      drop_rate: 0,
      flows_discarded: 0,
    };
  }
  status(): CaptureStatus {
    this.record('status');
    return {
      running: this.running,
      interface: 'eth0',
      backend: 'afpacket',
      buffer_size_mb: 64,
      uptime_sec: 0,
      flow_metering_enabled: true,
      encryption_enabled: false,
      netflow_enabled: false,
    };
  }
  metrics(): CaptureMetrics {
    this.record('metrics');
    return {
      running: this.running,
      packets_captured: 10,
      packets_dropped: 0,
      bytes_captured: 1000,
      drop_rate: 0,
      active_flows: 2,
      total_flows: 3,
      throughput_mbps: 8,
      throughput_gbps: 0.008,
      buffer_usage_pct: 0,
      packet_rate_pps: 10,
      timestamp: 1_700_000_000,
      capture_duration_sec: 1,
      parse_errors: 0,
      evictions: 0,
    };
  }
  configureMeter(params: MeterConfigureParams, actor: string): MeterConfigureResult {
    this.record('configureMeter', params, actor);
    return {
      status: 'enabled',
      table_size: params.table_size ?? 262_144,
      idle_timeout_sec: params.idle_timeout_sec ?? 300,
      active_timeout_sec: params.active_timeout_sec ?? 1800,
      export_interval_sec: params.export_interval_sec ?? 60,
      applies: 'now',
    };
  }
  flows(query: FlowQuery): FlowRecord[] {
    this.record('flows', query);
    return [flow(3), flow(1)].slice(0, query.limit);
  }
  enableNetflow(params: NetflowParams, actor: string): NetflowResult {
    this.record('enableNetflow', params, actor);
    return { status: 'enabled', ...params, applies: 'now' };
  }
  disableNetflow(actor: string): NetflowResult {
    this.record('disableNetflow', actor);
    return { status: 'disabled' };
  }
  verifyFirmware(): FirmwareReport {
    this.record('verifyFirmware');
    return this.firmware;
  }
}

let controller: StandInController;
let lines: Record<string, unknown>[];
let app: ReturnType<typeof createControlApp>;

beforeEach(() => {
  controller = new StandInController();
  lines = [];
  const logger = createAgentLogger({
    level: 'debug',
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  app = createControlApp({ controller, token: TOKEN, logger });
});

const auth = { authorization: `Bearer ${TOKEN}` };
const get = (path: string, headers: Record<string, string> = auth) =>
  app.request(`${BASE}${path}`, { headers });
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(`${BASE}${path}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const audits = () => lines.filter((l) => l.audit === true);

async function expectError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.message).not.toContain('\n');
  return body.error.message;
}

describe('control API: bearer token', () => {
  it('refuses a request without a token (401 missing_token) and audits it', async () => {
    const res = await get('/status', {});
    await expectError(res, 401, 'missing_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(controller.calls).toEqual([]);
    expect(audits()).toEqual([
      expect.objectContaining({
        action: 'control.auth',
        actor: 'control-api',
        outcome: 'refused',
        code: 'missing_token',
        path: `${BASE}/status`,
      }),
    ]);
  });

  it.each([
    ['a wrong token', `Bearer ${TOKEN.slice(0, -1)}x`],
    ['a longer token', `Bearer ${TOKEN}0`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, 8)}`],
    ['another scheme', `Basic ${TOKEN}`],
    ['no token after Bearer', 'Bearer '],
  ])('refuses %s (401 invalid_token)', async (_, header) => {
    const res = await get('/status', { authorization: header });
    await expectError(res, 401, 'invalid_token');
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(controller.calls).toEqual([]);
  });

  it('guards every route, unknown ones included, and writes (POST) routes', async () => {
    for (const path of ['/backends', '/metrics', '/flows', '/firmware/verify', '/nope']) {
      await expectError(await get(path, {}), 401, 'missing_token');
    }
    const res = await app.request(`${BASE}/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"interface":"eth0"}',
    });
    await expectError(res, 401, 'missing_token');
    expect(controller.calls).toEqual([]);
  });

  describe('refused requests flooding the audit trail', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('audits the first refusal at once, then one refused_count line per 10 s while they go on', async () => {
      const refusedAudits = () => audits().filter((a) => a.action === 'control.auth');
      await expectError(await get('/status', {}), 401, 'missing_token');
      expect(refusedAudits()).toEqual([
        expect.objectContaining({ outcome: 'refused', code: 'missing_token' }),
      ]);
      expect(refusedAudits()[0]).not.toHaveProperty('refused_count');

      for (let i = 0; i < 50; i++) {
        await expectError(
          await get('/metrics', { authorization: 'Bearer nope' }),
          401,
          'invalid_token',
        );
      }
      // Every request is still refused and logged, but the audit trail has one line so far.
      expect(lines.filter((l) => l.msg === 'control request')).toHaveLength(51);
      expect(refusedAudits()).toHaveLength(1);

      vi.advanceTimersByTime(10_000);
      expect(refusedAudits()).toHaveLength(2);
      expect(refusedAudits()[1]).toMatchObject({
        actor: 'control-api',
        outcome: 'refused',
        code: 'invalid_token',
        path: `${BASE}/metrics`,
        refused_count: 50,
        window_sec: 10,
      });

      await get('/status', {});
      await get('/status', {});
      expect(refusedAudits()).toHaveLength(2);
      vi.advanceTimersByTime(10_000);
      expect(refusedAudits().at(-1)).toMatchObject({ code: 'missing_token', refused_count: 2 });

      // Quiet for a window: nothing to sum up, and the next refusal is audited at once again.
      vi.advanceTimersByTime(10_000);
      vi.advanceTimersByTime(10_000);
      expect(refusedAudits()).toHaveLength(3);
      await get('/status', {});
      expect(refusedAudits()).toHaveLength(4);
      expect(refusedAudits()[3]).not.toHaveProperty('refused_count');
      // Accepted requests are not limited or counted.
      expect((await get('/status')).status).toBe(200);
    });
  });

  it('accepts the scheme in any case', async () => {
    const res = await get('/status', { authorization: `bearer ${TOKEN}` });
    expect(res.status).toBe(200);
  });

  it('refuses to build with a short token', () => {
    expect(() =>
      createControlApp({ controller, token: 'short', logger: createAgentLogger({ write() {} }) }),
    ).toThrow(/at least 16 characters/);
  });
});

describe('control API: validation', () => {
  it.each([
    ['an unknown field', { interface: 'eth0', promisc: true }, 'promisc'],
    ['buffer_size_mb out of range', { interface: 'eth0', buffer_size_mb: 0 }, 'buffer_size_mb'],
    ['an unknown backend', { interface: 'eth0', backend: 'dpdk' }, 'backend'],
    ['an interface name over 15 characters', { interface: 'x'.repeat(16) }, 'interface'],
    ['a snaplen that is not an integer', { interface: 'eth0', snaplen: 1.5 }, 'snaplen'],
    ['a string where a number goes', { interface: 'eth0', buffer_size_mb: '64' }, 'buffer_size_mb'],
    ['an array body', [1, 2], ''],
  ])('start: 400 for %s, audited as refused', async (_, body, field) => {
    const message = await expectError(await post('/start', body), 400, 'invalid_request');
    expect(message).toContain(field);
    expect(controller.calls).toEqual([]);
    expect(audits()).toEqual([
      expect.objectContaining({
        action: 'capture.start',
        actor: 'control-api',
        outcome: 'refused',
        code: 'invalid_request',
        encryption: false,
      }),
    ]);
  });

  it('400 invalid_json for a body that does not parse', async () => {
    await expectError(await post('/start', '{"interface":'), 400, 'invalid_json');
    expect(controller.calls).toEqual([]);
  });

  it.each([
    ['/stop', { graceful: 'yes' }],
    ['/stop', { graceful: true, now: true }],
    ['/flow/meter/enable', { table_size: 100 }],
    ['/flow/meter/enable', { idle_timeout_sec: 0 }],
    ['/flow/meter/enable', { encryption: true }],
    ['/netflow/export/enable', {}],
    ['/netflow/export/enable', { collector_ip: '10.0.0.1', netflow_version: 9 }],
    ['/netflow/export/enable', { collector_ip: '10.0.0.1', collector_port: 70000 }],
  ])('POST %s %j: 400 invalid_request', async (path, body) => {
    await expectError(await post(path, body), 400, 'invalid_request');
    expect(controller.calls).toEqual([]);
  });

  it.each([
    'limit=0',
    'limit=10001',
    'limit=ten',
    'limit=1.5',
    'min_packets=-1',
    'sort_by=src_ip',
    'order=desc',
  ])('GET /flows?%s: 400 invalid_request', async (query) => {
    await expectError(await get(`/flows?${query}`), 400, 'invalid_request');
    expect(controller.calls).toEqual([]);
  });

  it('415 for a body that is not declared JSON', async () => {
    const res = await post('/start', '{"interface":"eth0"}', { 'content-type': 'text/plain' });
    await expectError(res, 415, 'unsupported_media_type');
    const form = await post('/stop', 'graceful=true', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    await expectError(form, 415, 'unsupported_media_type');
    expect(controller.calls).toEqual([]);
  });

  it('413 for a body over 64 KiB', async () => {
    const big = JSON.stringify({ interface: 'eth0', filter_expr: 'x'.repeat(70 * 1024) });
    await expectError(await post('/start', big), 413, 'payload_too_large');
    expect(controller.calls).toEqual([]);
  });

  it('an empty POST body means {} (curl -X POST .../stop)', async () => {
    controller.running = true;
    const res = await app.request(`${BASE}/stop`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    expect(controller.calls).toEqual([{ method: 'stop', args: [{}, 'control-api'] }]);
  });
});

describe('control API: routes', () => {
  it.each([
    // POST /encryption/enable exists (test/unit/agent/evidence/control-route.test.ts); GET does not.
    ['GET', '/encryption/enable'],
    ['GET', '/start'],
    ['POST', '/status'],
    ['GET', '/flows/'],
    ['GET', '/packet_capture/capture'],
  ])('%s %s: 404 not_found', async (method, path) => {
    const url = path.startsWith('/packet_capture') ? path : `${BASE}${path}`;
    const res = await app.request(url, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      ...(method === 'POST'
        ? { body: JSON.stringify({ cipher_suite: 'AES-256-GCM', key_file: '/k' }) }
        : {}),
    });
    await expectError(res, 404, 'not_found');
    expect(controller.calls).toEqual([]);
  });

  it('GET /tango/status: 404 tango_not_running without a node, behind the token like the rest', async () => {
    await expectError(
      await app.request('/tango/status', { headers: auth }),
      404,
      'tango_not_running',
    );
    await expectError(await app.request('/tango/status'), 401, 'missing_token');
  });

  it('GET backends: the controller list as is', async () => {
    const res = await get('/backends');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(controller.backends());
  });

  it('POST start: passes the validated params and the actor, answers the spec shape', async () => {
    const body = {
      interface: 'eth0',
      backend: 'libpcap',
      buffer_size_mb: 256,
      timestamp_source: 'kernel',
      filter_expr: 'tcp port 443',
      snaplen: 0,
    };
    const res = await post('/start', body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'started',
      interface: 'eth0',
      backend: 'libpcap',
      buffer_size_mb: 256,
      timestamp_source: 'kernel',
      session_id: 'sess_000000000001',
    });
    expect(controller.calls).toEqual([{ method: 'start', args: [body, 'control-api'] }]);
  });

  it('POST stop, GET status and metrics: controller answers as JSON', async () => {
    const stop = await post('/stop', { graceful: false });
    expect(await stop.json()).toMatchObject({ status: 'stopped', packets_captured: 10 });
    expect(controller.calls[0]).toEqual({
      method: 'stop',
      args: [{ graceful: false }, 'control-api'],
    });
    const status = (await (await get('/status')).json()) as CaptureStatus;
    expect(status).toMatchObject({ running: false, encryption_enabled: false });
    const metrics = (await (await get('/metrics')).json()) as CaptureMetrics;
    expect(Object.keys(metrics).sort()).toEqual(
      [
        'active_flows',
        'buffer_usage_pct',
        'bytes_captured',
        'capture_duration_sec',
        'drop_rate',
        'evictions',
        'packet_rate_pps',
        'packets_captured',
        'packets_dropped',
        'parse_errors',
        'running',
        'throughput_gbps',
        'throughput_mbps',
        'timestamp',
        'total_flows',
      ].sort(),
    );
  });

  it('GET flows: defaults, numbers parsed from the query, an array of flows', async () => {
    const res = await get('/flows');
    expect(res.status).toBe(200);
    const flows = (await res.json()) as FlowRecord[];
    expect(flows.map((f) => f.packets)).toEqual([3, 1]);
    await get('/flows?limit=1&min_packets=2&sort_by=bytes');
    await get('/flows?limit=10000&sort_by=duration&min_packets=');
    expect(controller.calls.map((c) => c.args[0])).toEqual([
      { limit: 100, min_packets: 0, sort_by: 'packets' },
      { limit: 1, min_packets: 2, sort_by: 'bytes' },
      { limit: 10000, min_packets: 0, sort_by: 'duration' },
    ]);
  });

  it('POST flow/meter/enable and netflow/export/enable: defaults filled in', async () => {
    const meter = await post('/flow/meter/enable', { table_size: 100_000, idle_timeout_sec: 300 });
    expect(await meter.json()).toMatchObject({ status: 'enabled', table_size: 100_000 });
    const netflow = await post('/netflow/export/enable', { collector_ip: '10.0.0.100' });
    expect(await netflow.json()).toEqual({
      status: 'enabled',
      collector_ip: '10.0.0.100',
      collector_port: 2055,
      export_interval_sec: 60,
      netflow_version: 5,
      applies: 'now',
    });
    expect(controller.calls[1]).toEqual({
      method: 'enableNetflow',
      args: [
        {
          collector_ip: '10.0.0.100',
          collector_port: 2055,
          export_interval_sec: 60,
          netflow_version: 5,
        },
        'control-api',
      ],
    });
  });

  it('GET firmware/verify: 200 valid with Ed25519', async () => {
    const res = await get('/firmware/verify');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'valid',
      signature_algorithm: 'Ed25519',
      verified_at: 1_700_000_000.5,
      message: 'signature verified',
      addon_sha256: 'ab'.repeat(32),
    });
  });

  it.each([
    ['invalid', 'firmware_invalid'],
    ['unsigned', 'firmware_unsigned'],
  ] as const)('GET firmware/verify: 400 when %s', async (status, code) => {
    controller.firmware = {
      status,
      algorithm: 'Ed25519',
      message: 'signature does not match the addon',
      verified_at: 1_700_000_001,
    };
    const res = await get('/firmware/verify');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      status: 'invalid',
      signature_algorithm: 'Ed25519',
      verified_at: 1_700_000_001,
      error: { code, message: 'signature does not match the addon' },
    });
  });
});

describe('control API: errors', () => {
  it.each([
    [new ControlError(409, 'already_running', 'a capture is already running'), 409],
    [new ControlError(400, 'invalid_filter', 'filter "tcp port x": bad'), 400],
    [new ControlError(403, 'permission', 'needs CAP_NET_RAW'), 403],
    [new ControlError(503, 'engine_unavailable', 'native engine not built'), 503],
  ])('a ControlError keeps its status and code (%s)', async (error, status) => {
    controller.failNext = error;
    const message = await expectError(
      await post('/start', { interface: 'eth0' }),
      status,
      error.code,
    );
    expect(message).toBe(error.message);
  });

  it('an unexpected error is a 503 with a generic message; the detail goes to the log', async () => {
    controller.failNext = new TypeError('cannot read x of undefined at /opt/secret/path.ts:12');
    const message = await expectError(await get('/metrics'), 503, 'internal_unavailable');
    expect(message).not.toMatch(/secret|TypeError|undefined/);
    const logged = lines.find((l) => l.msg === 'control request failed')!;
    expect(logged).toMatchObject({ level: 'error', path: `${BASE}/metrics` });
    expect(String(logged.stack)).toContain('TypeError');
  });
});

describe('control API: logs', () => {
  it('one JSON line per request, refused ones included', async () => {
    await get('/status');
    await get('/status', {});
    await get('/nope');
    const requests = lines.filter((l) => l.msg === 'control request');
    expect(requests.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', `${BASE}/status`, 200],
      ['GET', `${BASE}/status`, 401],
      ['GET', `${BASE}/nope`, 404],
    ]);
    for (const l of requests) {
      expect(l).toMatchObject({ level: 'info', component: 'agent' });
      expect(typeof l.ms).toBe('number');
    }
  });
});

// The controller's drop-rate alarm is pure arithmetic over the engine's tick counters; it is
// checked here, next to the API that reports the same counters, since it needs no engine.
describe('drop-rate alarm (what raises drop_rate_high)', () => {
  it('raises on the drop rate over the last tick, above the threshold, at most once per quiet period', () => {
    const alarm = new DropRateAlarm(1, 60_000);
    const tick = (packets: number, drops: number, at: number) =>
      alarm.observe({ kernel_packets: packets, kernel_drops: drops }, at);
    expect(tick(1000, 500, 0)).toBeUndefined(); // the first tick has no interval yet
    expect(tick(2000, 505, 1000)).toBeUndefined(); // 5 of 1000 = 0.5 %
    expect(tick(3000, 525, 2000)).toBe(2); // 20 of 1000 = 2 %
    expect(tick(4000, 625, 3000)).toBeUndefined(); // 10 %, but within the quiet period
    expect(tick(4000, 625, 70_000)).toBeUndefined(); // nothing taken: no rate
    expect(tick(5000, 675, 71_000)).toBe(5);
    expect(tick(6000, 685, 200_000)).toBeUndefined(); // exactly 1 % is not above 1 %
  });
});
