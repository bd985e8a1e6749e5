import type { StoreClients } from './clients.js';
import type { StoreConfig } from './config.js';
import { MappingsRepository } from './mappings.js';
import { PacketRepository } from './packets.js';
import { TenantRepository } from './tenants.js';

export interface Repositories {
  tenants: TenantRepository;
  mappings: MappingsRepository;
  packets: PacketRepository;
}

export function createRepositories(clients: StoreClients, config: StoreConfig): Repositories {
  return {
    tenants: new TenantRepository(clients, config.tenantsTable),
    mappings: new MappingsRepository(clients, config.tenantsTable),
    packets: new PacketRepository(clients, config.packetsTable, config.tenantsTable),
  };
}
