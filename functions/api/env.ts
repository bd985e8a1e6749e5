import type { S3Client } from '@aws-sdk/client-s3';
import type { WindowLimits } from '../evidence/window-download.js';
import type { AgentIdentityProvider } from '../identity/provider.js';
import type { Logger } from '../logger.js';
import type { PcapExportService } from '../pcap/export-runner.js';
import type { AgentRoutingView } from '../routing/agent-routing.js';
import type { TangoPathsView } from '../routing/tango-paths-view.js';
import type { AgentRepository } from '../store/agents.js';
import type { CommandRepository } from '../store/commands.js';
import type { EventRepository, MetricsHistoryRepository } from '../store/events.js';
import type { EvidenceCustodyRepository } from '../store/evidence-custody.js';
import type { FlowRepository } from '../store/flows.js';
import type { ManifestKeyRepository } from '../store/manifest-key.js';
import type { MappingsRepository } from '../store/mappings.js';
import type { PacketRepository } from '../store/packets.js';
import type { PagingSecretRepository } from '../store/paging-secret.js';
import type { PathsRepository } from '../store/paths.js';
import type { SegmentRepository } from '../store/segments.js';
import type { Tenant, TenantRepository } from '../store/tenants.js';
import type { CommandPublisher } from './command-publisher.js';

/** Everything the API needs from the outside world; the handlers build it from the environment. */
export interface AppDeps {
  tenants: TenantRepository;
  mappings: MappingsRepository;
  packets: PacketRepository;
  agents: AgentRepository;
  flows: FlowRepository;
  commands: CommandRepository;
  events: EventRepository;
  metricsHistory: MetricsHistoryRepository;
  /** Tango per-path measurements from agents (issue 12). */
  paths: PathsRepository;
  /** Signs page tokens (next_token); shared by every API process through the store. */
  pagingSecret: PagingSecretRepository;
  /** Recorded evidence segments (issue 11). */
  segments: SegmentRepository;
  /** Signs window manifests; shared by every API process through the store. */
  manifestKey: ManifestKeyRepository;
  /** Who was handed links to which evidence. */
  custody: EvidenceCustodyRepository;
  /** The tenant's mappings merged with what its agents announce, for routing. */
  agentRouting: AgentRoutingView;
  /** Fresh Tango path measurements for routing; without it routing ignores them. */
  tangoPaths?: TangoPathsView;
  /** Delivers commands to agents; without one, POST /agents/{id}/commands answers 503. */
  commandPublisher?: CommandPublisher;
  /** The broker agents connect to, handed out with their credentials (MQTT_PUBLIC_URL in AWS). */
  mqttUrl?: string;
  /**
   * Signs agents' CSRs (the local CA, or AWS IoT with AGENT_IDENTITY=aws-iot);
   * without one, registering with a CSR answers 503 identity_unavailable.
   */
  identity?: AgentIdentityProvider;
  /**
   * The largest evidence window one request assembles; larger ones are jobs (with pcapExports)
   * or 413.
   */
  windowRequestLimits: WindowLimits;
  /** Asynchronous PCAP exports (jobs and their runner); without it every download is built at once. */
  pcapExports?: PcapExportService;
  s3: S3Client;
  pcapBucket: string;
  /** Presigned URL lifetime in seconds (at most 900). */
  urlTtlSeconds: number;
  logger: Logger;
  /** Current time in epoch ms; injectable for tests. */
  now?: () => number;
}

export interface AppEnv {
  Variables: {
    tenant: Tenant;
    /** The bearer token's id (first 16 hex digits of its SHA-256), for custody records. */
    tokenId: string;
    requestId: string;
  };
}
