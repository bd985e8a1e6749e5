import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { createLogger, type Logger } from '../../functions/logger.js';
import { destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { ensureStoreResources } from '../../functions/store/schema.js';
import { DEFAULT_INSTANCE_ID, DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { ensureDefaultToken } from './api-token.js';
import {
  DYNALITE_CREDENTIALS,
  type RunningEmulator,
  S3RVER_CREDENTIALS,
  startDynalite,
  startS3rver,
} from './emulators.js';

export interface LocalStackOptions {
  dataDir: string;
  host: string;
  port: number;
  dynamoPort: number;
  s3Port: number;
  /** External endpoints replace the embedded emulators. */
  dynamoEndpoint?: string;
  s3Endpoint?: string;
  apiToken?: string;
  urlTtlSeconds?: number;
  logger?: Logger;
  /** Keep nothing on disk (tests). */
  inMemory?: boolean;
}

export interface LocalStack {
  apiUrl: string;
  dynamoEndpoint: string;
  s3Endpoint: string;
  token: string;
  tokenSource: 'env' | 'file' | 'new';
  config: StoreConfig;
  stop(): Promise<void>;
}

export const STACK_FILE = 'stack.json';

/** dynalite + s3rver + the API server, all in this process. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const logger = options.logger ?? createLogger('local-stack');
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const emulators: RunningEmulator[] = [];
  const stopEmulators = () => Promise.all(emulators.map((e) => e.close()));
  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    if (!dynamoEndpoint) {
      const dynamo = await startDynalite({
        ...(options.inMemory ? {} : { path: path.join(options.dataDir, 'dynamodb') }),
        host: options.host,
        port: options.dynamoPort,
      });
      emulators.push(dynamo);
      dynamoEndpoint = dynamo.endpoint;
    }
    let s3Endpoint = options.s3Endpoint;
    if (!s3Endpoint) {
      const s3 = await startS3rver({
        directory: path.join(options.dataDir, 's3'),
        host: options.host,
        port: options.s3Port,
      });
      emulators.push(s3);
      s3Endpoint = s3.endpoint;
    }
    const config: StoreConfig = {
      region: process.env.AWS_REGION ?? 'us-east-1',
      ...DEFAULT_TABLES,
      dynamoEndpoint,
      s3Endpoint,
      ...(options.dynamoEndpoint ? {} : { dynamoCredentials: DYNALITE_CREDENTIALS }),
      ...(options.s3Endpoint ? {} : { s3Credentials: S3RVER_CREDENTIALS }),
    };
    const deps = createAppDeps(config, {
      logger: options.logger ?? createLogger('api'),
      ...(options.urlTtlSeconds ? { urlTtlSeconds: options.urlTtlSeconds } : {}),
    });
    await ensureStoreResources(deps.clients, config);
    await deps.tenants.ensure(DEFAULT_TENANT, DEFAULT_INSTANCE_ID);
    const { token, source } = await ensureDefaultToken(
      deps.tenants,
      DEFAULT_TENANT,
      options.dataDir,
      options.apiToken,
    );

    const app = createApp(deps);
    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const apiUrl = `http://${options.host}:${port}`;
    const stackFile = path.join(options.dataDir, STACK_FILE);
    await writeFile(
      stackFile,
      JSON.stringify({ pid: process.pid, apiUrl, dynamoEndpoint, s3Endpoint }, null, 2),
      { mode: 0o600 },
    );
    logger.info('local stack started', { apiUrl, dynamoEndpoint, s3Endpoint });
    return {
      apiUrl,
      dynamoEndpoint,
      s3Endpoint,
      token,
      tokenSource: source,
      config,
      async stop() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        destroyStoreClients(deps.clients);
        await stopEmulators();
        await rm(stackFile, { force: true });
        logger.info('local stack stopped');
      },
    };
  } catch (error) {
    await stopEmulators();
    throw error;
  }
}
