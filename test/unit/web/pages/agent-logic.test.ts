import { describe, expect, it } from 'vitest';
import { commandRequestSchema } from '../../../../functions/api/schemas.js';
import {
  type AgentCommand,
  type AgentEvent,
  buildCommand,
  commandProgress,
  describeDetails,
  EMPTY_COMMAND_FORM,
  flattenResult,
  type MetricsSample,
  mapLimited,
  mergeEvents,
  rateSeries,
} from '../../../../web/src/pages/agents/agent-logic.js';

function sample(sentAt: number, packets: number, dropped: number, bytes: number): MetricsSample {
  return {
    sent_at: sentAt,
    capture: {
      running: true,
      packets_captured: packets,
      packets_dropped: dropped,
      bytes_captured: bytes,
      drop_rate: 0,
      packet_rate_pps: 0,
      throughput_mbps: 0,
      buffer_usage_pct: 0,
      parse_errors: 0,
    },
    flows: { active: 0, emitted: 0, evictions: 0 },
    spool: { depth_batches: 0, depth_bytes: 0, dropped_batches: 0, dropped_records: 0 },
    uplink: { connected: true, published: 0, acked: 0, reconnects: 0 },
  };
}

describe('metrics rates', () => {
  it('derives packets, drops and bits per second from counter deltas, oldest first', () => {
    // As the API lists them: newest first.
    const points = rateSeries([
      sample(1010, 3000, 30, 300_000),
      sample(1005, 1000, 10, 100_000),
      sample(1000, 0, 0, 0),
    ]);
    expect(points).toEqual([
      { t: 1_005_000, packetsPerSec: 200, dropsPerSec: 2, bitsPerSec: 160_000 },
      { t: 1_010_000, packetsPerSec: 400, dropsPerSec: 4, bitsPerSec: 320_000 },
    ]);
  });

  it('restarts from zero when a counter goes down (a new capture session)', () => {
    const points = rateSeries([sample(1000, 5000, 50, 500), sample(1010, 200, 0, 100)]);
    expect(points).toEqual([{ t: 1_010_000, packetsPerSec: 20, dropsPerSec: 0, bitsPerSec: 80 }]);
  });

  it('needs two samples with time between them', () => {
    expect(rateSeries([sample(1000, 1, 0, 1)])).toEqual([]);
    expect(rateSeries([sample(1000, 1, 0, 1), sample(1000, 2, 0, 2)])).toEqual([]);
  });
});

describe('event pages', () => {
  const event = (id: string): AgentEvent => ({
    event_id: id,
    sent_at: 1,
    type: 'capture_started',
    severity: 'info',
    message: id,
  });

  it('keeps the newest page first and each event once', () => {
    expect(
      mergeEvents([event('c'), event('b')], [event('b'), event('a')]).map((e) => e.event_id),
    ).toEqual(['c', 'b', 'a']);
  });

  it('writes details as key=value pairs', () => {
    expect(describeDetails({ reason: 'end_of_file', runs: 1, interface: null })).toBe(
      'reason=end_of_file runs=1',
    );
    expect(describeDetails(undefined)).toBe('');
  });
});

describe('command bodies', () => {
  it('sends status with no parameters', () => {
    expect(buildCommand(EMPTY_COMMAND_FORM)).toEqual({
      ok: true,
      body: { action: 'status', params: {} },
    });
  });

  it('leaves empty capture parameters to the agent and converts the numbers', () => {
    expect(
      buildCommand({
        ...EMPTY_COMMAND_FORM,
        action: 'capture.start',
        interface: ' eth0 ',
        snaplen: '128',
        filter_expr: 'udp port 4341',
      }),
    ).toEqual({
      ok: true,
      body: {
        action: 'capture.start',
        params: { interface: 'eth0', snaplen: 128, filter_expr: 'udp port 4341' },
      },
    });
  });

  it('names each field that is not a whole number in range', () => {
    const built = buildCommand({
      ...EMPTY_COMMAND_FORM,
      action: 'meter.configure',
      idle_timeout_sec: '0',
      table_size: '12.5',
      export_interval_sec: '10',
    });
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(Object.keys(built.errors).sort()).toEqual(['idle_timeout_sec', 'table_size']);
    expect(built.errors.idle_timeout_sec).toMatch(/1 to 86,400/);
  });

  it('sends a graceful or immediate stop', () => {
    expect(
      buildCommand({ ...EMPTY_COMMAND_FORM, action: 'capture.stop', graceful: false }),
    ).toEqual({ ok: true, body: { action: 'capture.stop', params: { graceful: false } } });
  });

  it('asks for evidence recording with the chosen cipher, or the agent’s own', () => {
    const form = { ...EMPTY_COMMAND_FORM, action: 'evidence.enable' as const };
    expect(buildCommand(form)).toEqual({
      ok: true,
      body: { action: 'evidence.enable', params: {} },
    });
    expect(buildCommand({ ...form, cipher_suite: 'ChaCha20-Poly1305' })).toEqual({
      ok: true,
      body: { action: 'evidence.enable', params: { cipher_suite: 'ChaCha20-Poly1305' } },
    });
    // Whatever the form builds, the API's own schema accepts.
    const built = buildCommand({ ...form, cipher_suite: 'AES-128-GCM' });
    expect(built.ok && commandRequestSchema.safeParse(built.body).success).toBe(true);
  });
});

describe('command progress', () => {
  const command = (over: Partial<AgentCommand>): AgentCommand => ({
    command_id: 'cmd_1',
    agent_id: 'edge-1',
    action: 'status',
    params: {},
    issued_at: 1,
    status: 'pending',
    reply: null,
    replied_at: null,
    ...over,
  });

  it('is pending until the wait runs out, then says there is no reply yet', () => {
    expect(commandProgress(command({}), 1000, 30_000)).toEqual({
      state: 'pending',
      waitedMs: 1000,
    });
    expect(commandProgress(undefined, 30_000, 30_000)).toEqual({
      state: 'no_reply',
      waitedMs: 30_000,
    });
  });

  it("carries the agent's result or its error", () => {
    expect(
      commandProgress(
        command({
          status: 'ok',
          reply: { status: 'ok', replied_at: 2, result: { running: true } },
        }),
        10,
      ),
    ).toEqual({ state: 'ok', result: { running: true } });
    expect(
      commandProgress(
        command({
          status: 'error',
          reply: {
            status: 'error',
            replied_at: 2,
            error: { code: 'forbidden', message: 'no such file' },
          },
        }),
        10,
      ),
    ).toEqual({ state: 'error', code: 'forbidden', message: 'no such file' });
    expect(commandProgress(command({ status: 'expired' }), 10)).toEqual({ state: 'expired' });
  });

  it('flattens a status reply into dotted rows', () => {
    expect(
      flattenResult({ running: false, interface: null, metrics: { packets: 3 }, list: [1, 2] }),
    ).toEqual([
      ['running', false],
      ['interface', null],
      ['metrics.packets', 3],
      ['list', '[1,2]'],
    ]);
  });
});

describe('mapLimited', () => {
  it('keeps the order of the items and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimited([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });
});
