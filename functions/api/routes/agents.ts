import { type Context, Hono } from 'hono';
import {
  type AgentCommand,
  COMMAND_MAX_AGE_SEC,
  commandSchema,
} from '../../../protocol/agent-messages.js';
import { type AgentRecord, isOnline } from '../../store/agents.js';
import { newCommandId, type StoredCommand } from '../../store/commands.js';
import { pageAfter } from '../../store/query.js';
import type { AppDeps, AppEnv } from '../env.js';
import { ApiError, NotFoundError } from '../errors.js';
import { pageTokensFor } from '../paging.js';
import {
  agentsQuerySchema,
  commandRequestSchema,
  commandsQuerySchema,
  timelineQuerySchema,
} from '../schemas.js';
import { readJson, readQuery } from '../validate.js';
import { agentCredentialRoutes, credentialSummary, findTenantAgent } from './agent-credentials.js';

export type AgentStatus = 'online' | 'offline' | 'never_seen';

const COMMAND_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function agentStatus(agent: AgentRecord, nowSec: number): AgentStatus {
  if (agent.lastSeen === null) return 'never_seen';
  return isOnline(agent, nowSec) ? 'online' : 'offline';
}

/** What the list and the detail view share. */
function agentBase(agent: AgentRecord, nowSec: number) {
  return {
    agent_id: agent.agentId,
    status: agentStatus(agent, nowSec),
    created_at: agent.createdAt,
    last_seen: agent.lastSeen,
    version: agent.heartbeat?.version ?? null,
    backend: agent.heartbeat?.backend ?? null,
  };
}

export function agentSummary(agent: AgentRecord, nowSec: number) {
  return {
    ...agentBase(agent, nowSec),
    capture_running: agent.heartbeat?.capture.running ?? null,
  };
}

export function agentDetail(agent: AgentRecord, nowSec: number) {
  const hb = agent.heartbeat;
  return {
    ...agentBase(agent, nowSec),
    uptime_sec: hb?.uptime_sec ?? null,
    interval_sec: hb?.interval_sec ?? null,
    capture: hb?.capture ?? null,
    rlocs: hb?.rlocs ?? [],
    eid_prefixes: hb?.eid_prefixes ?? [],
    metrics: agent.metrics,
    metrics_at: agent.metricsAt,
    credentials: credentialSummary(agent),
  };
}

/** Time for a reply to travel back after the agent's own cut-off. */
const REPLY_GRACE_SEC = 60;

/** A command as the API shows it: one still pending past the agent's cut-off is 'expired'. */
export function commandView(command: StoredCommand, nowSec: number) {
  // The agent refuses commands older than this, so one still unanswered never will be.
  const unanswerable =
    command.status === 'pending' &&
    nowSec - command.issued_at > COMMAND_MAX_AGE_SEC + REPLY_GRACE_SEC;
  return unanswerable ? { ...command, status: 'expired' as const } : command;
}

/** The /agents resource: status and commands; credentials in agent-credentials.ts. */
export function agentRoutes(deps: AppDeps) {
  const nowMs = () => deps.now?.() ?? Date.now();
  const pageTokens = pageTokensFor(deps);
  const findAgent = (c: Context<AppEnv>) => findTenantAgent(deps, c);

  return new Hono<AppEnv>()
    .route('/', agentCredentialRoutes(deps))
    .get('/agents', async (c) => {
      const { limit, next_token } = readQuery(c, agentsQuerySchema);
      const tenant = c.get('tenant').name;
      const cursor = await pageTokens.cursor(tenant, 'agents', {}, next_token);
      const page = await deps.agents.listPage(tenant, { limit, ...pageAfter(cursor.after) });
      const nowSec = nowMs() / 1000;
      return c.json({
        agents: page.agents.map((agent) => agentSummary(agent, nowSec)),
        next_token: await cursor.tokenFor(page.next),
      });
    })
    .get('/agents/:id', async (c) => {
      const agent = await findAgent(c);
      return c.json(agentDetail(agent, nowMs() / 1000));
    })
    .get('/agents/:id/events', async (c) => {
      const agent = await findAgent(c);
      const { limit, next_token } = readQuery(c, timelineQuerySchema);
      const tenant = c.get('tenant').name;
      const list = `agents/${agent.agentId}/events`;
      const cursor = await pageTokens.cursor(tenant, list, {}, next_token);
      const page = await deps.events.page(tenant, agent.agentId, {
        limit,
        ...pageAfter(cursor.after),
      });
      return c.json({ events: page.items, next_token: await cursor.tokenFor(page.next) });
    })
    .get('/agents/:id/metrics', async (c) => {
      const agent = await findAgent(c);
      const { limit, next_token } = readQuery(c, timelineQuerySchema);
      const tenant = c.get('tenant').name;
      const list = `agents/${agent.agentId}/metrics`;
      const cursor = await pageTokens.cursor(tenant, list, {}, next_token);
      const page = await deps.metricsHistory.page(tenant, agent.agentId, {
        limit,
        ...pageAfter(cursor.after),
      });
      return c.json({ metrics: page.items, next_token: await cursor.tokenFor(page.next) });
    })
    .post('/agents/:id/commands', async (c) => {
      const body = await readJson(c, commandRequestSchema);
      const agent = await findAgent(c);
      const publisher = deps.commandPublisher;
      if (!publisher) {
        throw new ApiError(
          503,
          'command_channel_unavailable',
          'no command channel is configured; commands cannot reach agents',
        );
      }
      const tenant = c.get('tenant').name;
      const command: AgentCommand = commandSchema.parse({
        ...body,
        command_id: newCommandId(nowMs()),
        issued_at: Math.floor(nowMs() / 1000),
      });
      await deps.commands.create(tenant, agent.agentId, command);
      try {
        await publisher.publish(agent.agentId, command);
      } catch (error) {
        // Close the command so it does not look pending forever: the agent never got it.
        await deps.commands
          .recordReply(agent.agentId, {
            schema: 'wirefleet.reply/1',
            command_id: command.command_id,
            replied_at: nowMs() / 1000,
            status: 'error',
            error: { code: 'publish_failed', message: 'the command could not be published' },
          })
          .catch(() => undefined);
        deps.logger.warn('command publish failed', {
          agentId: agent.agentId,
          commandId: command.command_id,
          error: error instanceof Error ? error.message : String(error),
        });
        throw new ApiError(
          503,
          'command_channel_unavailable',
          `command ${command.command_id} could not be published; retry shortly`,
        );
      }
      return c.json(
        { command_id: command.command_id, status: 'pending', agent_id: agent.agentId },
        202,
      );
    })
    .get('/agents/:id/commands', async (c) => {
      const agent = await findAgent(c);
      const { limit, next_token } = readQuery(c, commandsQuerySchema);
      const tenant = c.get('tenant').name;
      const list = `agents/${agent.agentId}/commands`;
      const cursor = await pageTokens.cursor(tenant, list, {}, next_token);
      const page = await deps.commands.page(tenant, agent.agentId, {
        limit,
        ...pageAfter(cursor.after),
      });
      const nowSec = nowMs() / 1000;
      return c.json({
        commands: page.commands.map((command) => commandView(command, nowSec)),
        next_token: await cursor.tokenFor(page.next),
      });
    })
    .get('/agents/:id/commands/:commandId', async (c) => {
      const agent = await findAgent(c);
      const commandId = c.req.param('commandId');
      const command = COMMAND_ID_PATTERN.test(commandId)
        ? await deps.commands.get(c.get('tenant').name, agent.agentId, commandId)
        : undefined;
      if (!command) {
        throw new NotFoundError(
          `no command "${commandId.slice(0, 64)}" for agent ${agent.agentId}`,
          'command_not_found',
        );
      }
      return c.json(commandView(command, nowMs() / 1000));
    });
}
