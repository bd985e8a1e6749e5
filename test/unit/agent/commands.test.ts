import { describe, expect, it } from 'vitest';
import { ControlError } from '../../../agent/capture/errors.js';
import { CommandHandler } from '../../../agent/commands.js';
import type { AgentLogger, AuditEntry } from '../../../agent/log.js';
import { COMMAND_MAX_AGE_SEC, type CommandReply } from '../../../protocol/agent-messages.js';

// The controller here is a stand-in for the native engine: it records what it was asked.
function setup(now = 1_800_000_000_000) {
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
  });
  const send = (command: object) => handler.handle(Buffer.from(JSON.stringify(command)));
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

  it('ignores a payload that is not a valid command (no reply: there is no id to answer)', async () => {
    const t = setup();
    await t.send({ command_id: 'cmd_5', issued_at: t.nowSec, action: 'reboot' });
    expect(t.replies).toEqual([]);
    expect(t.calls).toEqual([]);
  });
});
