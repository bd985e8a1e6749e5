/** The documents GET and PUT /mappings exchange (functions/routing/mappings.ts mappingsSchema). */

import type { WorkloadType } from './types.js';

export { WORKLOAD_TYPES, type WorkloadType } from './types.js';

export interface Model {
  name: string;
  eid: string;
  locality: 'local' | 'cloud';
  strengths: WorkloadType[];
  quality: number;
  latency_ms: number;
  cost: number;
  service_port: number;
  enabled: boolean;
}

export interface Locator {
  rloc: string;
  priority: number;
  weight: number;
  reachable: boolean;
}

export interface EidPrefix {
  prefix: string;
  description: string;
  ttl_minutes: number;
  locators: Locator[];
}

export interface SourceLocator {
  rloc: string;
  reachable: boolean;
}

/** What PUT /mappings takes (functions/routing/mappings.ts mappingsSchema). */
export interface MappingsDocument {
  models: Model[];
  eid_prefixes: EidPrefix[];
  source_locators: SourceLocator[];
}

/** What GET and PUT /mappings answer. */
export interface MappingsResponse extends MappingsDocument {
  instance_id: number;
  /** ISO time of the last save; null while the tenant uses the built-in default. */
  updated_at: string | null;
  is_default: boolean;
}
