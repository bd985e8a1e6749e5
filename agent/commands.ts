import {
  type AgentCommand,
  COMMAND_MAX_AGE_SEC,
  type CommandReply,
  commandSchema,
} from '../protocol/agent-messages.js';
import { ControlError } from './capture/errors.js';
import type { CaptureControl } from './capture/types.js';
import type { AgentLogger } from './log.js';

/** How many command ids are remembered to drop redeliveries (QoS 1 may repeat). */
const REMEMBERED_COMMANDS = 1000;

export interface CommandHandlerOptions {
  controller: Pick<CaptureControl, 'start' | 'stop' | 'configureMeter' | 'status' | 'metrics'>;
  logger: AgentLogger;
  /** Sends the reply (the daemon spools it on `replies`). */
  reply: (reply: CommandReply) => Promise<void>;
  now?: () => number;
}

/**
 * Cloud commands: validated, carried out once, answered with the command id.
 * A command older than COMMAND_MAX_AGE_SEC (queued by the broker while the
 * agent was away) is answered 'expired' and not carried out: starting a
 * capture an operator asked for an hour ago would surprise them.
 */
export class CommandHandler {
  private readonly seen = new Set<string>();

  constructor(private readonly options: CommandHandlerOptions) {}

  async handle(payload: Buffer): Promise<CommandReply | undefined> {
    const { logger } = this.options;
    let command: AgentCommand;
    try {
      command = commandSchema.parse(JSON.parse(payload.toString('utf8')));
    } catch (error) {
      logger.warn('command refused: invalid', { error: (error as Error).message.slice(0, 300) });
      return undefined;
    }
    if (this.seen.has(command.command_id)) {
      logger.info('command repeated by the broker: ignored', { command_id: command.command_id });
      return undefined;
    }
    this.remember(command.command_id);

    const now = (this.options.now ?? Date.now)() / 1000;
    const reply: CommandReply = {
      schema: 'wirefleet.reply/1',
      command_id: command.command_id,
      replied_at: now,
      status: 'ok',
    };
    const age = now - command.issued_at;
    if (age > COMMAND_MAX_AGE_SEC) {
      reply.status = 'error';
      reply.error = {
        code: 'expired',
        message: `issued ${Math.round(age)} s ago, more than ${COMMAND_MAX_AGE_SEC} s: not carried out`,
      };
      logger.audit(command.action, {
        actor: `cloud:${command.command_id}`,
        outcome: 'refused',
        reason: 'expired',
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
      reply.replied_at = (this.options.now ?? Date.now)() / 1000;
    }
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
