import { createLogger, type Logger } from '../logger.js';
import { createStoreClients, type StoreClients } from '../store/clients.js';
import type { StoreConfig } from '../store/config.js';
import { createRepositories } from '../store/index.js';
import type { AppDeps } from './env.js';

export const DEFAULT_URL_TTL_SECONDS = 300;

/** Wires repositories and clients for the app from a store configuration. */
export function createAppDeps(
  config: StoreConfig,
  options: { logger?: Logger; urlTtlSeconds?: number; clients?: StoreClients } = {},
): AppDeps & { clients: StoreClients } {
  const clients = options.clients ?? createStoreClients(config);
  return {
    ...createRepositories(clients, config),
    clients,
    s3: clients.s3,
    pcapBucket: config.pcapBucket,
    urlTtlSeconds: options.urlTtlSeconds ?? DEFAULT_URL_TTL_SECONDS,
    logger: options.logger ?? createLogger('api'),
  };
}

/** PCAP_URL_TTL_SECONDS, clamped to 1-900 s. */
export function urlTtlFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.PCAP_URL_TTL_SECONDS ?? DEFAULT_URL_TTL_SECONDS);
  return Number.isFinite(value)
    ? Math.min(Math.max(Math.floor(value), 1), 900)
    : DEFAULT_URL_TTL_SECONDS;
}
