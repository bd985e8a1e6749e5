import { REQUEST_WINDOW_LIMITS, type WindowLimits } from '../evidence/window-download.js';
import type { AgentIdentityProvider } from '../identity/provider.js';
import { createLogger, type Logger } from '../logger.js';
import { DEFAULT_ASYNC_EXPORT_THRESHOLD, type ExportRunner } from '../pcap/export-runner.js';
import type { AgentAnnouncement } from '../routing/agent-locators.js';
import { AgentRoutingView, type AnnouncementLoader } from '../routing/agent-routing.js';
import { TangoPathsView } from '../routing/tango-paths-view.js';
import { type AgentRepository, isOnline } from '../store/agents.js';
import { createStoreClients, type StoreClients } from '../store/clients.js';
import type { StoreConfig } from '../store/config.js';
import { ExportJobRepository } from '../store/export-jobs.js';
import { createRepositories, type Repositories } from '../store/index.js';
import type { CommandPublisher } from './command-publisher.js';
import type { AppDeps } from './env.js';

export const DEFAULT_URL_TTL_SECONDS = 300;

/** Wires repositories and clients for the app from a store configuration. */
export function createAppDeps(
  config: StoreConfig,
  options: {
    logger?: Logger;
    urlTtlSeconds?: number;
    clients?: StoreClients;
    /** Share repositories (and their caches) with other parts of the process, e.g. the broker's auth. */
    repositories?: Repositories;
    commandPublisher?: CommandPublisher;
    mqttUrl?: string;
    /** The agent identity provider, or how to make one from the agent registry. */
    identity?:
      | AgentIdentityProvider
      | ((registry: AgentRepository) => AgentIdentityProvider | undefined);
    /** Runs asynchronous PCAP exports; without one, every download is built in the request. */
    exportRunner?: ExportRunner;
    asyncExportThreshold?: number;
    /** What one request assembles (REQUEST_WINDOW_LIMITS unless set; tests set less). */
    windowRequestLimits?: WindowLimits;
    now?: () => number;
  } = {},
): AppDeps & { clients: StoreClients } {
  const clients = options.clients ?? createStoreClients(config);
  const repositories = options.repositories ?? createRepositories(clients, config);
  const now = options.now ?? Date.now;
  const identity =
    typeof options.identity === 'function'
      ? options.identity(repositories.agents)
      : options.identity;
  return {
    ...repositories,
    agentRouting: new AgentRoutingView(agentAnnouncements(repositories.agents, now), { now }),
    tangoPaths: new TangoPathsView((tenant) => repositories.paths.listLatest(tenant), { now }),
    ...(options.commandPublisher ? { commandPublisher: options.commandPublisher } : {}),
    ...(options.mqttUrl ? { mqttUrl: options.mqttUrl } : {}),
    ...(identity ? { identity } : {}),
    ...(options.exportRunner
      ? {
          pcapExports: {
            jobs: new ExportJobRepository(clients, config.flowsTable),
            runner: options.exportRunner,
            asyncThreshold: options.asyncExportThreshold ?? DEFAULT_ASYNC_EXPORT_THRESHOLD,
          },
        }
      : {}),
    ...(options.now ? { now: options.now } : {}),
    windowRequestLimits: options.windowRequestLimits ?? REQUEST_WINDOW_LIMITS,
    clients,
    s3: clients.s3,
    pcapBucket: config.pcapBucket,
    urlTtlSeconds: options.urlTtlSeconds ?? DEFAULT_URL_TTL_SECONDS,
    logger: options.logger ?? createLogger('api'),
  };
}

/**
 * A tenant's agents as routing sees them: their latest heartbeat, whether they
 * are online now and how long they have been silent (for the registration hold).
 */
export function agentAnnouncements(
  agents: Pick<AgentRepository, 'list'>,
  now: () => number = Date.now,
): AnnouncementLoader {
  return async (tenant) => {
    const nowSec = now() / 1000;
    return (await agents.list(tenant)).flatMap((agent): AgentAnnouncement[] =>
      agent.heartbeat
        ? [
            {
              agentId: agent.agentId,
              online: isOnline(agent, nowSec),
              silentSec:
                agent.lastSeen === null ? Number.POSITIVE_INFINITY : nowSec - agent.lastSeen,
              intervalSec: agent.heartbeat.interval_sec,
              rlocs: agent.heartbeat.rlocs,
              eidPrefixes: agent.heartbeat.eid_prefixes,
            },
          ]
        : [],
    );
  };
}

/** PCAP_URL_TTL_SECONDS, clamped to 1-900 s. */
export function urlTtlFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.PCAP_URL_TTL_SECONDS ?? DEFAULT_URL_TTL_SECONDS);
  return Number.isFinite(value)
    ? Math.min(Math.max(Math.floor(value), 1), 900)
    : DEFAULT_URL_TTL_SECONDS;
}

/**
 * WINDOW_REQUEST_MAX_SEGMENTS: evidence windows of more segments are assembled as jobs rather
 * than inside the request. 1 to 200 (the default): an operator may lower it, not raise it past
 * what fits in API Gateway's 30 s.
 */
export function windowRequestLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): WindowLimits {
  const value = Number(env.WINDOW_REQUEST_MAX_SEGMENTS ?? REQUEST_WINDOW_LIMITS.segments);
  const segments = Number.isFinite(value)
    ? Math.min(Math.max(Math.floor(value), 1), REQUEST_WINDOW_LIMITS.segments)
    : REQUEST_WINDOW_LIMITS.segments;
  return { ...REQUEST_WINDOW_LIMITS, segments };
}
