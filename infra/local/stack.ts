import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { SegmentUploads } from '../../functions/evidence/segment-uploads.js';
import type { WindowLimits } from '../../functions/evidence/window-download.js';
import { LocalCaIdentity } from '../../functions/identity/local-ca.js';
import { loadOrCreateLocalCa } from '../../functions/identity/local-ca-files.js';
import { createLogger, type Logger } from '../../functions/logger.js';
import { createExportWorkerDeps } from '../../functions/pcap/export-job.js';
import { InProcessExportRunner } from '../../functions/pcap/export-runner.js';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { createRepositories } from '../../functions/store/index.js';
import { ensureStoreResources } from '../../functions/store/schema.js';
import { DEFAULT_INSTANCE_ID, DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { ensureDefaultToken } from './api-token.js';
import { type LocalBroker, startLocalBroker } from './broker.js';
import { type ConsoleOptions, type PreparedConsole, prepareConsole } from './console.js';
import {
  DYNALITE_CREDENTIALS,
  type RunningEmulator,
  S3RVER_CREDENTIALS,
  startDynalite,
  startS3rver,
} from './emulators.js';
import { type IngestSubscriber, startIngestSubscriber } from './ingest-subscriber.js';
import { type LocalAgent, startLocalAgent } from './local-agent.js';

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
  /** The largest evidence window one request assembles (larger ones are jobs). */
  windowRequestLimits?: WindowLimits;
  /** Port of the embedded aedes broker (0 = any free port). */
  mqttPort?: number;
  /** Its mTLS port for agents' certificates (default 8883; any free port when mqttPort is 0). */
  mqttTlsPort?: number;
  /** An external broker replaces aedes; the ingest subscriber logs in with these credentials. */
  mqttUrl?: string;
  mqttUsername?: string;
  mqttPassword?: string;
  /** Start the local agent (a child process); `npm start` does, tests usually do not. */
  localAgent?: boolean;
  /** Control API port of the local agent (default 8001). */
  localAgentControlPort?: number;
  logger?: Logger;
  /** Keep nothing on disk (tests). */
  inMemory?: boolean;
  /** How long stop() waits for HTTP requests and ingest writes in flight (default 10 s). */
  drainMs?: number;
  /** Serve the web console at `/` (built first when stale); `npm start` does, tests usually do not. */
  console?: ConsoleOptions;
}

export interface LocalStack {
  apiUrl: string;
  /** The web console (`apiUrl` + `/`), when this stack serves it. */
  console: PreparedConsole | undefined;
  dynamoEndpoint: string;
  s3Endpoint: string;
  mqttUrl: string;
  /** The embedded broker's mTLS listener for agents (none with an external broker). */
  mqttsUrl: string | undefined;
  /** The local CA's certificate: what agents verify the broker with. */
  caFile: string;
  token: string;
  tokenSource: 'env' | 'file' | 'new';
  config: StoreConfig;
  agent: LocalAgent | undefined;
  ingest: IngestSubscriber;
  /** Asynchronous PCAP exports run in this process; stop() drains them with the HTTP requests. */
  exports: InProcessExportRunner;
  /** HTTP requests being answered right now. */
  inFlight(): number;
  /**
   * Refuses new connections (HTTP, MQTT), lets what is in flight finish within
   * drainMs, stops the local agent and the ingest subscriber, then closes the
   * broker and the emulators. Never closes a store under a request.
   */
  stop(): Promise<StopSummary>;
}

export interface StopSummary {
  /** HTTP requests answered after the stop began. */
  drained: number;
  /** HTTP requests still in flight at the drain bound, cut. */
  cut: number;
}

export const DEFAULT_DRAIN_MS = 10_000;

export const STACK_FILE = 'stack.json';

/** dynalite + s3rver + the API server, all in this process. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const logger = options.logger ?? createLogger('local-stack');
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const emulators: RunningEmulator[] = [];
  let broker: LocalBroker | undefined;
  let ingest: IngestSubscriber | undefined;
  const stopEmulators = async () => {
    await ingest?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await Promise.all(emulators.map((e) => e.close()));
  };
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
    const clients = createStoreClients(config);
    await ensureStoreResources(clients, config);
    // One set of repositories for the broker's auth, ingest and the API, so a
    // password rotated through the API stops working at the broker at once.
    const repositories = createRepositories(clients, config);
    const ingestLogger = options.logger ?? createLogger('ingest');
    const ingestDeps = {
      ...repositories,
      // Evidence uploads are answered on `uploads` through the subscriber's own publishing connection.
      segmentUploads: new SegmentUploads({
        segments: repositories.segments,
        s3: clients.s3,
        bucket: config.pcapBucket,
        publisher: {
          publishDownlink: (agentId, channel, message) =>
            ingest
              ? ingest.publishDownlink(agentId, channel, message)
              : Promise.reject(new Error('the ingest subscriber is not running')),
        },
        logger: ingestLogger,
      }),
      logger: ingestLogger,
    };

    // The broker (aedes, or an external one), then the subscriber that feeds ingest.
    // The local CA (made on first start, kept in the data dir) signs agents'
    // CSRs and the broker's TLS certificate.
    const localCa = await loadOrCreateLocalCa(path.join(options.dataDir, 'ca'));
    let identity: LocalCaIdentity | undefined;
    let mqttUrl = options.mqttUrl;
    if (!mqttUrl) {
      const mqttPort = options.mqttPort ?? 1883;
      const server = await localCa.ca.issueServerCertificate([
        options.host,
        '127.0.0.1',
        '::1',
        'localhost',
      ]);
      const agents = ingestDeps.agents;
      broker = await startLocalBroker({
        host: options.host,
        port: mqttPort,
        auth: {
          verifyAgent: (id, password) => agents.verifyPassword(id, password),
          verifyCertificate: (id, certificateId) => agents.verifyCertificate(id, certificateId),
        },
        tls: {
          port: options.mqttTlsPort ?? (mqttPort === 0 ? 0 : 8883),
          ca: localCa.ca.certificatePem,
          cert: server.certificatePem,
          key: server.keyPem,
        },
        logger: options.logger ?? createLogger('mqtt'),
      });
      mqttUrl = broker.url;
      identity = new LocalCaIdentity({
        ca: localCa.ca,
        registry: agents,
        mqttUrl: broker.tlsUrl!,
        passwordLogin: true,
      });
      const started = broker;
      // Like AWS IoT, a deactivated certificate loses its open connections too.
      identity.onDeactivated((_agentId, certificateId) =>
        started.disconnectCertificate(certificateId),
      );
    }
    const mqttsUrl = broker?.tlsUrl;
    // '_' is not allowed in agent ids, so no agent can take this client id over.
    const ingestClientId = `wirefleet_ingest_${createHash('sha256').update(path.resolve(options.dataDir)).digest('hex').slice(0, 12)}`;
    ingest = await startIngestSubscriber({
      url: mqttUrl,
      clientId: ingestClientId,
      username: broker ? broker.service.username : options.mqttUsername,
      password: broker ? broker.service.password : options.mqttPassword,
      deps: ingestDeps,
      logger: options.logger ?? createLogger('ingest'),
    });

    const exports = new InProcessExportRunner(
      createExportWorkerDeps(config, {
        clients,
        packets: repositories.packets,
        manifestKey: repositories.manifestKey,
        logger: options.logger ?? createLogger('pcap-export'),
      }),
    );
    const deps = createAppDeps(config, {
      exportRunner: exports,
      clients,
      repositories,
      logger: options.logger ?? createLogger('api'),
      commandPublisher: ingest,
      mqttUrl,
      ...(identity ? { identity } : {}),
      ...(options.urlTtlSeconds ? { urlTtlSeconds: options.urlTtlSeconds } : {}),
      ...(options.windowRequestLimits ? { windowRequestLimits: options.windowRequestLimits } : {}),
    });
    await deps.tenants.ensure(DEFAULT_TENANT, DEFAULT_INSTANCE_ID);
    const { token, source } = await ensureDefaultToken(
      deps.tenants,
      DEFAULT_TENANT,
      options.dataDir,
      options.apiToken,
    );

    const app = createApp(deps);
    const webConsole = options.console ? await prepareConsole(options.console, logger) : undefined;
    // The console's paths (/, /assets/*) are answered here, everything else by the API app.
    const fetchHandler: typeof app.fetch = webConsole
      ? (request, ...rest) => webConsole.handle(request) ?? app.fetch(request, ...rest)
      : app.fetch;
    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: fetchHandler, port: options.port, hostname: options.host }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const apiUrl = `http://${options.host}:${port}`;
    const http = trackRequests(server as HttpServer);
    const agent = options.localAgent
      ? await startLocalAgent({
          dataDir: options.dataDir,
          tenant: DEFAULT_TENANT,
          apiUrl,
          token,
          ...(mqttsUrl ? { tls: { url: mqttsUrl, caPem: localCa.ca.certificatePem } } : {}),
          mqttUrl,
          agents: deps.agents,
          logger,
          ...(options.localAgentControlPort !== undefined
            ? { controlPort: options.localAgentControlPort }
            : {}),
        })
      : undefined;
    const stackFile = path.join(options.dataDir, STACK_FILE);
    await writeFile(
      stackFile,
      JSON.stringify(
        { pid: process.pid, apiUrl, dynamoEndpoint, s3Endpoint, mqttUrl, mqttsUrl },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    logger.info('local stack started', { apiUrl, dynamoEndpoint, s3Endpoint, mqttUrl, mqttsUrl });
    const subscriber = ingest;
    return {
      apiUrl,
      console: webConsole,
      dynamoEndpoint,
      s3Endpoint,
      mqttUrl,
      mqttsUrl,
      caFile: localCa.certFile,
      token,
      tokenSource: source,
      config,
      agent,
      ingest: subscriber,
      exports,
      inFlight: () => http.inFlight(),
      async stop() {
        const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
        const deadline = Date.now() + drainMs;
        const left = () => Math.max(0, deadline - Date.now());
        // 1. No new connections; connected clients finish what they started.
        http.stopAccepting();
        broker?.stopAccepting();
        logger.info('local stack stopping', { http_in_flight: http.inFlight(), drain_ms: drainMs });
        // 2. HTTP requests drain while the agent stops (its last flows go out through the broker).
        const [{ answered, cut }] = await Promise.all([http.drain(drainMs), agent?.stop()]);
        if (cut > 0)
          logger.warn('drain bound reached: requests cut', { requests: cut, drain_ms: drainMs });
        // Export jobs the requests started finish within the bound, or are marked failed.
        await exports.drain(left());
        // 3. Ingest takes what the broker still holds for it, then disconnects.
        while (broker && left() > 0) {
          const queued = await broker.unacknowledged(ingestClientId);
          if (queued === 0 && subscriber.stats().in_flight === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await subscriber.stop({ drainMs: left() });
        ingest = undefined;
        // 4. Nothing uses the stores any more: close them.
        destroyStoreClients(deps.clients);
        await stopEmulators();
        await rm(stackFile, { force: true });
        logger.info('local stack stopped', { drained: answered, cut });
        return { drained: answered, cut };
      },
    };
  } catch (error) {
    await stopEmulators();
    throw error;
  }
}

/**
 * Counts the requests being answered, so a stop can wait for them. Once
 * stopping, every response says `Connection: close`: a kept-alive client
 * gets its next request answered and then moves on.
 */
function trackRequests(server: HttpServer) {
  const open = new Set<ServerResponse>();
  let stopping = false;
  let answeredWhileStopping = 0;
  // Before the app's listener, so the header is set before any response starts.
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (stopping) res.setHeader('Connection', 'close');
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      if (stopping && res.writableFinished) answeredWhileStopping++;
    });
  });
  const connections = () =>
    new Promise<number>((resolve) => server.getConnections((_, count) => resolve(count ?? 0)));
  return {
    inFlight: () => open.size,
    stopAccepting() {
      stopping = true;
      for (const res of open) if (!res.headersSent) res.setHeader('Connection', 'close');
      // net's close, not http's: http's also drops accepted connections whose request has
      // not arrived yet, which would cut requests the client already sent.
      NetServer.prototype.close.call(server);
    },
    /**
     * Resolves once every connection is gone, or at the bound. Idle connections are
     * closed only when no request is in flight, and a connection whose request has
     * begun to arrive is never idle, so nothing that reached the server is cut before
     * the bound.
     */
    async drain(boundMs: number): Promise<{ answered: number; cut: number }> {
      const deadline = Date.now() + boundMs;
      while (Date.now() < deadline) {
        if (open.size === 0) {
          server.closeIdleConnections();
          if ((await connections()) === 0) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const cut = open.size;
      server.closeAllConnections();
      return { answered: answeredWhileStopping, cut };
    },
  };
}
