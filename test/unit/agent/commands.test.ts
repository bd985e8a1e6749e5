import { describe, expect, it } from 'vitest';
import { ControlError } from '../../../agent/capture/errors.js';
import { CommandHandler } from '../../../agent/commands.js';
import type { AgentLogger, AuditEntry } from '../../../agent/log.js';
import { COMMAND_MAX_AGE_SEC, type CommandReply } from '../../../protocol/agent-messages.js';

// The controller here is a stand-in for the native engine: it records what it was asked.
function setup(now = 1_800_000_000_000, allowedFiles?: string[]) {
  const calls: string[] = [];
  const replies: CommandReply[] = [];
  const audits: { action: string; entry: AuditEntry }[] = [];
  const logger: AgentLogger = {
    debug() {},
    info() {},
    warn() {},
    error() {},
    audit(action, entry) {
      audits.push({ action, entry });
    },
  };
  const controller = {
    async start(params: object, actor: string) {
      calls.push(`start ${JSON.stringify(params)} by ${actor}`);
      return { status: 'started' } as never;
    },
    async stop() {
      calls.push('stop');
      throw new ControlError(409, 'not_running', 'no capture is running');
    },
    configureMeter(params: object) {
      calls.push(`configure ${JSON.stringify(params)}`);
      return { status: 'enabled' } as never;
    },
    status: () => ({ running: false }) as never,
    metrics: () => ({ packets_captured: 3 }) as never,
  };
  const handler = new CommandHandler({
    controller,
    logger,
    reply: async (reply) => {
      replies.push(reply);
    },
    now: () => now,
    ...(allowedFiles ? { allowedFiles } : {}),
  });
  const send = (command: object | string) =>
    handler.handle(Buffer.from(typeof command === 'string' ? command : JSON.stringify(command)));
  return { calls, replies, audits, send, nowSec: now / 1000 };
}

describe('CommandHandler', () => {
  it('carries out a fresh command and answers with its id and result', async () => {
    const t = setup();
    await t.send({
      command_id: 'cmd_1',
      issued_at: t.nowSec - 5,
      action: 'capture.start',
      params: { interface: 'eth1' },
    });
    expect(t.calls).toEqual(['start {"interface":"eth1"} by cloud:cmd_1']);
    expect(t.replies).toEqual([
      expect.objectContaining({
        command_id: 'cmd_1',
        status: 'ok',
        result: { status: 'started' },
      }),
    ]);
  });

  it('answers a typed refusal with its code', async () => {
    const t = setup();
    await t.send({ command_id: 'cmd_2', issued_at: t.nowSec, action: 'capture.stop' });
    expect(t.replies[0]).toMatchObject({
      status: 'error',
      error: { code: 'not_running', message: 'no capture is running' },
    });
  });

  it('does not carry out a command the broker delivers twice', async () => {
    const t = setup();
    const command = { command_id: 'cmd_3', issued_at: t.nowSec, action: 'status' };
    await t.send(command);
    await t.send(command);
    expect(t.replies).toHaveLength(1);
    expect(t.replies[0]?.result).toMatchObject({
      running: false,
      metrics: { packets_captured: 3 },
    });
  });

  it('answers a stale command "expired" without carrying it out, and audits the refusal', async () => {
    const t = setup();
    await t.send({
      command_id: 'cmd_4',
      issued_at: t.nowSec - COMMAND_MAX_AGE_SEC - 1,
      action: 'capture.start',
      params: {},
    });
    expect(t.calls).toEqual([]);
    expect(t.replies[0]).toMatchObject({ status: 'error', error: { code: 'expired' } });
    expect(t.audits).toEqual([
      {
        action: 'capture.start',
        entry: expect.objectContaining({ actor: 'cloud:cmd_4', outcome: 'refused' }),
      },
    ]);
  });

  it('answers a command that fails the schema "invalid_command" when its id is readable', async () => {
    const t = setup();
    await t.send({ command_id: 'cmd_5', issued_at: t.nowSec, action: 'reboot' });
    await t.send({
      command_id: 'cmd_6',
      issued_at: t.nowSec,
      action: 'capture.start',
      params: { snaplen: 'all' },
    });
    expect(t.calls).toEqual([]);
    expect(t.replies).toEqual([
      {
        schema: 'wirefleet.reply/1',
        command_id: 'cmd_5',
        replied_at: t.nowSec,
        status: 'error',
        error: { code: 'invalid_command', message: expect.stringMatching(/^invalid command: /) },
      },
      expect.objectContaining({
        command_id: 'cmd_6',
        status: 'error',
        error: {
          code: 'invalid_command',
          message: expect.stringContaining('params.snaplen: Invalid input'),
        },
      }),
    ]);
    for (const reply of t.replies) expect(reply.error?.message).not.toContain('\n');
    // A redelivery of the same invalid command is not answered twice.
    await t.send({ command_id: 'cmd_5', issued_at: t.nowSec, action: 'reboot' });
    expect(t.replies).toHaveLength(2);
  });

  it.each([
    ['not JSON', '{"command_id": "cmd_7", '],
    ['no command_id', { issued_at: 1, action: 'status' }],
    ['a command_id that is not a string', { command_id: 7, issued_at: 1, action: 'status' }],
    ['a command_id too long to answer', { command_id: 'x'.repeat(65), action: 'status' }],
    ['not an object', '"status"'],
    ['null', 'null'],
  ])('ignores %s (no reply: there is no id to answer)', async (_, payload) => {
    const t = setup();
    expect(await t.send(payload)).toBeUndefined();
    expect(t.replies).toEqual([]);
    expect(t.calls).toEqual([]);
  });

  it('refuses a command issued too far in the future "clock_skew", naming both times', async () => {
    const t = setup();
    await t.send({
      command_id: 'cmd_8',
      issued_at: t.nowSec + COMMAND_MAX_AGE_SEC + 60,
      action: 'capture.start',
      params: {},
    });
    expect(t.calls).toEqual([]);
    expect(t.replies[0]).toMatchObject({ status: 'error', error: { code: 'clock_skew' } });
    const message = t.replies[0]?.error?.message ?? '';
    expect(message).toContain(new Date((t.nowSec + COMMAND_MAX_AGE_SEC + 60) * 1000).toISOString());
    expect(message).toContain(new Date(t.nowSec * 1000).toISOString());
    expect(t.audits).toEqual([
      {
        action: 'capture.start',
        entry: expect.objectContaining({ outcome: 'refused', reason: 'clock_skew' }),
      },
    ]);
    // A little ahead (within the allowed age) is carried out.
    await t.send({ command_id: 'cmd_9', issued_at: t.nowSec + 30, action: 'status' });
    expect(t.replies[1]).toMatchObject({ status: 'ok' });
  });

  it('replays only the configured capture file for the cloud: any other file is "forbidden"', async () => {
    const configured = '/var/lib/wirefleet/replay.pcap';
    const t = setup(undefined, [configured]);
    const start = (command_id: string, params: object) =>
      t.send({ command_id, issued_at: t.nowSec, action: 'capture.start', params });
    await start('cmd_10', { file: '/run/initctl' });
    await start('cmd_11', { file: 'replay.pcap' });
    await start('cmd_12', { file: '/var/lib/wirefleet/../wirefleet/replay.pcap' });
    await start('cmd_13', { backend: 'file' });
    expect(t.replies.map((r) => [r.command_id, r.status, r.error?.code ?? null])).toEqual([
      ['cmd_10', 'error', 'forbidden'],
      ['cmd_11', 'error', 'forbidden'],
      ['cmd_12', 'ok', null],
      ['cmd_13', 'ok', null],
    ]);
    expect(t.calls).toEqual([
      'start {"file":"/var/lib/wirefleet/../wirefleet/replay.pcap"} by cloud:cmd_12',
      'start {"backend":"file"} by cloud:cmd_13',
    ]);
    expect(t.audits).toEqual([
      {
        action: 'capture.start',
        entry: expect.objectContaining({
          actor: 'cloud:cmd_10',
          outcome: 'refused',
          reason: 'forbidden',
          file: '/run/initctl',
        }),
      },
      {
        action: 'capture.start',
        entry: expect.objectContaining({ actor: 'cloud:cmd_11', reason: 'forbidden' }),
      },
    ]);
  });

  it('refuses every file when no capture file is configured', async () => {
    const t = setup();
    await t.send({
      command_id: 'cmd_14',
      issued_at: t.nowSec,
      action: 'capture.start',
      params: { file: '/etc/shadow' },
    });
    expect(t.calls).toEqual([]);
    expect(t.replies[0]).toMatchObject({ status: 'error', error: { code: 'forbidden' } });
  });
});

describe('CommandHandler: evidence.enable', () => {
  // The evidence control is a stand-in that records what it was asked (the recorder behind it is
  // tested in test/unit/agent/evidence and on a veth in agent-evidence.test.ts).
  function withEvidence(keyFile: string | null, available = true) {
    const asked: Array<{ params: object; actor: string }> = [];
    const replies: CommandReply[] = [];
    const now = 1_800_000_000_000;
    const logger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {}, audit() {} };
    const handler = new CommandHandler({
      controller: {} as never,
      logger,
      reply: async (reply) => {
        replies.push(reply);
      },
      now: () => now,
      ...(available
        ? {
            evidence: {
              control: {
                enable: (params, actor) => {
                  asked.push({ params, actor });
                  return { status: 'enabled', ...params, key_id: 'ab'.repeat(16), applies: 'now' };
                },
              },
              keyFile,
              cipher: 'AES-256-GCM',
            },
          }
        : {}),
    });
    const send = (params: object) =>
      handler.handle(
        Buffer.from(
          JSON.stringify({
            command_id: `ev_${asked.length}_${replies.length}`,
            issued_at: now / 1000,
            action: 'evidence.enable',
            params,
          }),
        ),
      );
    return { asked, replies, send };
  }

  it('turns recording on with the configured key file, and the cipher asked for or configured', async () => {
    const t = withEvidence('/etc/wirefleet/capture.key');
    const first = await t.send({});
    const second = await t.send({ cipher_suite: 'ChaCha20-Poly1305' });
    expect(t.asked).toEqual([
      {
        params: { cipher_suite: 'AES-256-GCM', key_file: '/etc/wirefleet/capture.key' },
        actor: 'cloud:ev_0_0',
      },
      {
        params: { cipher_suite: 'ChaCha20-Poly1305', key_file: '/etc/wirefleet/capture.key' },
        actor: 'cloud:ev_1_1',
      },
    ]);
    expect(first).toMatchObject({ status: 'ok', result: { status: 'enabled', applies: 'now' } });
    expect(second?.result).toMatchObject({ cipher_suite: 'ChaCha20-Poly1305' });
  });

  it('never takes a key file from the cloud, and says why it cannot record', async () => {
    const t = withEvidence('/etc/wirefleet/capture.key');
    const named = await t.send({ key_file: '/etc/shadow' });
    expect(named).toMatchObject({ status: 'error', error: { code: 'invalid_command' } });
    expect(t.asked).toEqual([]);

    const none = withEvidence(null);
    expect(await none.send({})).toMatchObject({ status: 'error', error: { code: 'no_key_file' } });
    const off = withEvidence('/k', false);
    expect(await off.send({})).toMatchObject({
      status: 'error',
      error: { code: 'recording_unavailable' },
    });
  });
});
