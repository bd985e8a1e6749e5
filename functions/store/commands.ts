import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentCommand, CommandAction, CommandReply } from '../../protocol/agent-messages.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { AlreadyExistsError, storeCall } from './errors.js';
import { pageAfter, readPage } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

export interface StoredCommand {
  command_id: string;
  agent_id: string;
  action: CommandAction;
  params: Record<string, unknown>;
  issued_at: number;
  status: 'pending' | 'ok' | 'error';
  reply: CommandReply | null;
  replied_at: number | null;
}

/** Items one command page reads at most (commands of a former owner of the id are skipped). */
const COMMAND_PAGE_READ_CAP = 5000;

/**
 * A command id that sorts by issue time: `cmd_`, 12 hex digits of epoch
 * milliseconds, 12 random hex digits. Store order is then newest last, so
 * the list pages newest first with no sort of its own.
 */
export function newCommandId(nowMs: number): string {
  const ms = Math.min(Math.max(Math.floor(nowMs), 0), 0xffffffffffff);
  return `cmd_${ms.toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;
}

/** Commands and their replies are kept this long (DynamoDB TTL). */
export const COMMAND_TTL_DAYS = 30;

/** One partition per agent: a reply can only ever reach its own agent's commands. */
export const commandKey = (agentId: string, commandId: string) => ({
  pk: `CMDS#${agentId}`,
  sk: commandId,
});

function toCommand(item: Record<string, unknown>): StoredCommand {
  return {
    command_id: String(item.command_id),
    agent_id: String(item.agent_id),
    action: item.action as CommandAction,
    params: (item.params as Record<string, unknown> | undefined) ?? {},
    issued_at: Number(item.issued_at),
    status: item.status as StoredCommand['status'],
    reply: (item.reply as CommandReply | undefined) ?? null,
    replied_at: item.replied_at === undefined ? null : Number(item.replied_at),
  };
}

/** Commands sent to agents and the replies they sent back; kept in the flows table. */
export class CommandRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  /** Stores a pending command; AlreadyExistsError when the agent already has this command id. */
  async create(tenant: string, agentId: string, command: AgentCommand): Promise<StoredCommand> {
    const stored: StoredCommand = {
      command_id: command.command_id,
      agent_id: agentId,
      action: command.action,
      params: command.params,
      issued_at: command.issued_at,
      status: 'pending',
      reply: null,
      replied_at: null,
    };
    const created = await storeCall('create command', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...commandKey(agentId, command.command_id),
              tenant,
              command_id: stored.command_id,
              agent_id: agentId,
              action: stored.action,
              params: stored.params,
              issued_at: stored.issued_at,
              status: 'pending',
              [TTL_ATTRIBUTE]: Math.floor(Date.now() / 1000) + COMMAND_TTL_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
        ),
      ),
    );
    if (!created) throw new AlreadyExistsError(`command "${command.command_id}" already exists`);
    return stored;
  }

  /** The command if it belongs to this tenant's agent; undefined otherwise. */
  async get(
    tenant: string,
    agentId: string,
    commandId: string,
  ): Promise<StoredCommand | undefined> {
    const out = await storeCall('get command', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: commandKey(agentId, commandId) }),
      ),
    );
    return out.Item && out.Item.tenant === tenant ? toCommand(out.Item) : undefined;
  }

  /** The agent's commands, newest first, at most `limit` (1..1000). */
  async list(tenant: string, agentId: string, limit = 100): Promise<StoredCommand[]> {
    return (await this.page(tenant, agentId, { limit })).commands;
  }

  /**
   * One page of the agent's commands in store order, which is newest first:
   * command ids begin with their issue time (see newCommandId). `next` is
   * undefined at the end. Commands a former owner of the agent id left in the
   * partition are filtered out, so a page may be short.
   */
  async page(
    tenant: string,
    agentId: string,
    page: { limit: number; after?: string },
  ): Promise<{ commands: StoredCommand[]; next?: string }> {
    const limit = Math.min(Math.max(Math.floor(page.limit), 1), 1000);
    const { pk } = commandKey(agentId, '');
    const { items, next } = await readPage(
      this.clients.doc,
      'list commands',
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': 'tenant' },
        ExpressionAttributeValues: { ':pk': pk, ':t': tenant },
        ScanIndexForward: false,
      },
      { pk, limit, maxRead: COMMAND_PAGE_READ_CAP, ...pageAfter(page.after) },
    );
    return { commands: items.map(toCommand), ...(next !== undefined ? { next } : {}) };
  }

  /**
   * Records the first reply to a pending command of this agent. A repeat is a
   * 'duplicate'; a command id this agent was never sent is 'unknown'.
   */
  async recordReply(
    agentId: string,
    reply: CommandReply,
  ): Promise<'stored' | 'duplicate' | 'unknown'> {
    const key = commandKey(agentId, reply.command_id);
    const applied = await storeCall('record reply', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'SET #st = :st, #r = :r, #at = :at',
            ConditionExpression: 'attribute_exists(sk) AND #st = :pending',
            ExpressionAttributeNames: { '#st': 'status', '#r': 'reply', '#at': 'replied_at' },
            ExpressionAttributeValues: {
              ':st': reply.status,
              ':r': reply,
              ':at': reply.replied_at,
              ':pending': 'pending',
            },
          }),
        ),
      ),
    );
    if (applied) return 'stored';
    const out = await storeCall('get command', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: key, ProjectionExpression: 'sk' }),
      ),
    );
    return out.Item ? 'duplicate' : 'unknown';
  }
}
