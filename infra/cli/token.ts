import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { AlreadyExistsError } from '../../functions/store/errors.js';
import { ensureTables } from '../../functions/store/schema.js';
import {
  MAX_INSTANCE_ID,
  TENANT_NAME_PATTERN,
  TenantRepository,
} from '../../functions/store/tenants.js';
import { DYNALITE_CREDENTIALS, type RunningEmulator, startDynalite } from '../local/emulators.js';
import { STACK_FILE } from '../local/stack.js';
import { dataDirFromEnv, UsageError } from './options.js';

/** The store the local stack uses: its running dynalite, DYNAMODB_ENDPOINT, or the data dir opened directly. */
async function openLocalTenants(): Promise<{ tenants: TenantRepository; close(): Promise<void> }> {
  const dataDir = dataDirFromEnv();
  let endpoint = process.env.DYNAMODB_ENDPOINT;
  let emulator: RunningEmulator | undefined;
  if (!endpoint) {
    const running = await readFile(path.join(dataDir, STACK_FILE), 'utf8')
      .then((text) => JSON.parse(text) as { pid: number; dynamoEndpoint: string })
      .catch(() => undefined);
    if (running && isAlive(running.pid)) endpoint = running.dynamoEndpoint;
  }
  if (!endpoint) {
    emulator = await startDynalite({
      path: path.join(dataDir, 'dynamodb'),
      host: '127.0.0.1',
      port: 0,
    });
    endpoint = emulator.endpoint;
  }
  const config: StoreConfig = {
    region: process.env.AWS_REGION ?? 'us-east-1',
    ...DEFAULT_TABLES,
    ...(process.env.TENANTS_TABLE ? { tenantsTable: process.env.TENANTS_TABLE } : {}),
    dynamoEndpoint: endpoint,
    ...(process.env.DYNAMODB_ENDPOINT ? {} : { dynamoCredentials: DYNALITE_CREDENTIALS }),
  };
  const clients = createStoreClients(config);
  if (emulator) await ensureTables(clients, config);
  return {
    tenants: new TenantRepository(clients, config.tenantsTable),
    async close() {
      destroyStoreClients(clients);
      await emulator?.close();
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `wirefleet token create --tenant NAME [--instance-id N]`: creates the tenant
 * if it is new (with its own instance ID), issues a token and prints it once.
 */
export async function runTokenCreate(values: {
  tenant?: string;
  'instance-id'?: string;
}): Promise<void> {
  const tenantName = values.tenant;
  if (!tenantName || !TENANT_NAME_PATTERN.test(tenantName)) {
    throw new UsageError('--tenant NAME is required (a-z, 0-9, "-", up to 63 characters)');
  }
  let instanceId: number | undefined;
  if (values['instance-id'] !== undefined) {
    instanceId = Number(values['instance-id']);
    if (!Number.isInteger(instanceId) || instanceId < 1 || instanceId > MAX_INSTANCE_ID) {
      throw new UsageError(`--instance-id must be an integer 1-${MAX_INSTANCE_ID}`);
    }
  }
  const store = await openLocalTenants();
  try {
    let tenant = await store.tenants.get(tenantName);
    if (tenant && instanceId !== undefined && tenant.instanceId !== instanceId) {
      throw new UsageError(`tenant ${tenantName} already has instance ID ${tenant.instanceId}`);
    }
    if (!tenant) {
      try {
        tenant = await store.tenants.create(tenantName, instanceId);
      } catch (error) {
        if (error instanceof AlreadyExistsError) throw new UsageError(error.message);
        throw error;
      }
      process.stderr.write(
        `created tenant ${tenant.name} with LISP instance ID ${tenant.instanceId}\n`,
      );
    }
    const token = await store.tenants.issueToken(tenant.name, 'wirefleet token create');
    process.stderr.write(
      `token for tenant ${tenant.name} (shown once; only its hash is stored):\n`,
    );
    process.stdout.write(`${token}\n`);
  } finally {
    await store.close();
  }
}
