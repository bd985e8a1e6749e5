import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../logger.js';
import type { MappingsRepository } from '../store/mappings.js';
import type { PacketRepository } from '../store/packets.js';
import type { Tenant, TenantRepository } from '../store/tenants.js';

/** Everything the API needs from the outside world; the handlers build it from the environment. */
export interface AppDeps {
  tenants: TenantRepository;
  mappings: MappingsRepository;
  packets: PacketRepository;
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
    requestId: string;
  };
}
