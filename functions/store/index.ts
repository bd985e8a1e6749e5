import { AgentRepository } from './agents.js';
import type { StoreClients } from './clients.js';
import { CommandRepository } from './commands.js';
import type { StoreConfig } from './config.js';
import { EventRepository, MetricsHistoryRepository } from './events.js';
import { EvidenceCustodyRepository } from './evidence-custody.js';
import { FlowRepository } from './flows.js';
import { ManifestKeyRepository } from './manifest-key.js';
import { MappingsRepository } from './mappings.js';
import { PacketRepository } from './packets.js';
import { PagingSecretRepository } from './paging-secret.js';
import { PathsRepository } from './paths.js';
import { SegmentRepository } from './segments.js';
import { TenantRepository } from './tenants.js';

export interface Repositories {
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
  pagingSecret: PagingSecretRepository;
  /** Recorded evidence segments (issue 11). */
  segments: SegmentRepository;
  /** The Ed25519 key that signs window manifests. */
  manifestKey: ManifestKeyRepository;
  /** Who was handed links to which evidence. */
  custody: EvidenceCustodyRepository;
}

export function createRepositories(clients: StoreClients, config: StoreConfig): Repositories {
  return {
    tenants: new TenantRepository(clients, config.tenantsTable),
    mappings: new MappingsRepository(clients, config.tenantsTable),
    packets: new PacketRepository(clients, config.packetsTable, config.tenantsTable),
    agents: new AgentRepository(clients, config.tenantsTable),
    flows: new FlowRepository(clients, config.flowsTable),
    commands: new CommandRepository(clients, config.flowsTable),
    events: new EventRepository(clients, config.flowsTable),
    metricsHistory: new MetricsHistoryRepository(clients, config.flowsTable),
    paths: new PathsRepository(clients, config.flowsTable),
    pagingSecret: new PagingSecretRepository(clients, config.tenantsTable),
    segments: new SegmentRepository(clients, config.flowsTable, config.segmentRetentionDays),
    manifestKey: new ManifestKeyRepository(clients, config.tenantsTable),
    custody: new EvidenceCustodyRepository(clients, config.flowsTable),
  };
}
