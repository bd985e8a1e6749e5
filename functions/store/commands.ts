import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AgentCommand, CommandAction, CommandReply } from '../../protocol/agent-messages.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { AlreadyExistsError, storeCall } from './errors.js';
import { queryPages } from './query.js';
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

  /** The agent's commands, newest issued first, at most `limit` (1..1000). */
  async list(tenant: string, agentId: string, limit = 100): Promise<StoredCommand[]> {
    const commands: StoredCommand[] = [];
    for await (const page of queryPages(this.clients.doc, 'list commands', {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': commandKey(agentId, '').pk },
    })) {
      for (const item of page.Items ?? [])
        if (item.tenant === tenant) commands.push(toCommand(item));
      if (commands.length >= 1000) break;
    }
    return commands
      .sort((a, b) => b.issued_at - a.issued_at)
      .slice(0, Math.min(Math.max(limit, 1), 1000));
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
