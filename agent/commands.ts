import path from 'node:path';
import {
  type AgentCommand,
  COMMAND_MAX_AGE_SEC,
  type CommandReply,
  commandSchema,
} from '../protocol/agent-messages.js';
import { ControlError } from './capture/errors.js';
import type { CaptureControl } from './capture/types.js';
import { describeIssues } from './control/errors.js';
import type { EvidenceControl } from './evidence/control.js';
import type { AgentLogger } from './log.js';

/** How many command ids are remembered to drop redeliveries (QoS 1 may repeat). */
const REMEMBERED_COMMANDS = 1000;

export interface CommandHandlerOptions {
  controller: Pick<CaptureControl, 'start' | 'stop' | 'configureMeter' | 'status' | 'metrics'>;
  logger: AgentLogger;
  /** Sends the reply (the daemon spools it on `replies`). */
  reply: (reply: CommandReply) => Promise<void>;
  now?: () => number;
  /**
   * The only files a cloud command may name in capture.start (the configured capture file).
   * Anyone with a tenant API token can send commands: a free path would let them make the
   * agent (root) open any file and learn whether it exists. Default: none.
   */
  allowedFiles?: readonly string[];
  /**
   * evidence.enable: recording through the evidence control, with the configured key file only
   * (a command naming a path would let a token holder point the agent at any file). Without it
   * the command is answered recording_unavailable.
   */
  evidence?: { control: EvidenceControl; keyFile: string | null; cipher: string };
}

/** Why a command is refused before it is carried out. */
type Refusal = { code: string; message: string };

const iso = (sec: number) => new Date(sec * 1000).toISOString();

/**
 * Cloud commands: validated, carried out once, answered with the command id.
 * A command older than COMMAND_MAX_AGE_SEC (queued by the broker while the
 * agent was away) is answered 'expired' and not carried out: starting a
 * capture an operator asked for an hour ago would surprise them.
 */
export class CommandHandler {
  private readonly seen = new Set<string>();
  private readonly allowedFiles: Set<string>;

  constructor(private readonly options: CommandHandlerOptions) {
    this.allowedFiles = new Set((options.allowedFiles ?? []).map((f) => path.resolve(f)));
  }

  async handle(payload: Buffer): Promise<CommandReply | undefined> {
    const { logger } = this.options;
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      logger.warn('command refused: not JSON', { bytes: payload.length });
      return undefined;
    }
    const parsed = commandSchema.safeParse(raw);
    if (!parsed.success) return this.invalid(raw, describeIssues(parsed.error));
    const command = parsed.data;
    if (this.seen.has(command.command_id)) {
      logger.info('command repeated by the broker: ignored', { command_id: command.command_id });
      return undefined;
    }
    this.remember(command.command_id);

    const now = this.nowSec();
    const reply: CommandReply = {
      schema: 'wirefleet.reply/1',
      command_id: command.command_id,
      replied_at: now,
      status: 'ok',
    };
    const refusal = this.refusal(command, now);
    if (refusal) {
      reply.status = 'error';
      reply.error = refusal;
      logger.audit(command.action, {
        actor: `cloud:${command.command_id}`,
        outcome: 'refused',
        reason: refusal.code,
        ...(command.action === 'capture.start' && command.params.file !== undefined
          ? { file: command.params.file }
          : {}),
      });
    } else {
      try {
        reply.result = (await this.execute(command)) as Record<string, unknown>;
      } catch (error) {
        reply.status = 'error';
        reply.error =
          error instanceof ControlError
            ? { code: error.code, message: error.message }
            : { code: 'failed', message: (error as Error).message.slice(0, 1000) };
      }
      reply.replied_at = this.nowSec();
    }
    await this.options.reply(reply);
    return reply;
  }

  private nowSec(): number {
    return (this.options.now ?? Date.now)() / 1000;
  }

  /** Stale, from the future (a wrong clock), or naming a file the cloud may not replay. */
  private refusal(command: AgentCommand, now: number): Refusal | undefined {
    const age = now - command.issued_at;
    if (age > COMMAND_MAX_AGE_SEC) {
      return {
        code: 'expired',
        message: `issued ${Math.round(age)} s ago, more than ${COMMAND_MAX_AGE_SEC} s: not carried out`,
      };
    }
    if (-age > COMMAND_MAX_AGE_SEC) {
      return {
        code: 'clock_skew',
        message: `issued at ${iso(command.issued_at)}, ${Math.round(-age)} s after the agent's clock (${iso(now)}): check the agent's time sync; not carried out`,
      };
    }
    if (command.action === 'capture.start' && command.params.file !== undefined) {
      if (!this.allowedFiles.has(path.resolve(command.params.file))) {
        return {
          code: 'forbidden',
          message: 'cloud commands may only replay the capture file configured on the agent',
        };
      }
    }
    return undefined;
  }

  /**
   * A command that fails the schema is answered when its id can be read, so the cloud learns
   * at once instead of when the command expires.
   */
  private async invalid(raw: unknown, issues: string): Promise<CommandReply | undefined> {
    const { logger } = this.options;
    const id = (raw as { command_id?: unknown } | null)?.command_id;
    const answerable = typeof id === 'string' && id.length >= 1 && id.length <= 64;
    logger.warn('command refused: invalid', {
      error: issues.slice(0, 300),
      ...(answerable ? { command_id: id } : {}),
    });
    if (!answerable || this.seen.has(id)) return undefined;
    this.remember(id);
    const reply: CommandReply = {
      schema: 'wirefleet.reply/1',
      command_id: id,
      replied_at: this.nowSec(),
      status: 'error',
      error: { code: 'invalid_command', message: `invalid command: ${issues}`.slice(0, 1000) },
    };
    await this.options.reply(reply);
    return reply;
  }

  private execute(command: AgentCommand): Promise<unknown> | unknown {
    const { controller } = this.options;
    const actor = `cloud:${command.command_id}`;
    switch (command.action) {
      case 'capture.start':
        return controller.start(command.params, actor);
      case 'capture.stop':
        return controller.stop({ graceful: command.params.graceful ?? true }, actor);
      case 'meter.configure':
        return controller.configureMeter(command.params, actor);
      case 'status':
        return { ...controller.status(), metrics: controller.metrics() };
      case 'evidence.enable': {
        const evidence = this.options.evidence;
        if (!evidence) {
          throw new ControlError(
            503,
            'recording_unavailable',
            'evidence recording is not available on this agent (see its log)',
          );
        }
        if (!evidence.keyFile) {
          throw new ControlError(
            409,
            'no_key_file',
            'the agent config names no evidence.key_file; cloud commands use only that one',
          );
        }
        return evidence.control.enable(
          {
            cipher_suite: command.params.cipher_suite ?? evidence.cipher,
            key_file: evidence.keyFile,
          },
          actor,
        );
      }
    }
  }

  private remember(id: string): void {
    if (this.seen.size >= REMEMBERED_COMMANDS) {
      // Sets iterate in insertion order: drop the oldest.
      this.seen.delete(this.seen.values().next().value as string);
    }
    this.seen.add(id);
  }
}
