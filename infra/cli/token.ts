import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import { endpointCredentials, requireCredentials } from '../../functions/store/credentials.js';
import { AlreadyExistsError, StoreUnavailableError } from '../../functions/store/errors.js';
import { ensureTables } from '../../functions/store/schema.js';
import {
  MAX_INSTANCE_ID,
  TENANT_NAME_PATTERN,
  TenantRepository,
} from '../../functions/store/tenants.js';
import { DYNALITE_CREDENTIALS, type RunningEmulator, startDynalite } from '../local/emulators.js';
import { STACK_FILE } from '../local/stack.js';
import { dataDirFromEnv, UsageError } from './options.js';
import {
  awsRegionAndClient,
  deployedStoreConfig,
  readStackOutputs,
  requireOutput,
} from './stack-outputs.js';

export interface TokenCreateValues {
  tenant?: string | undefined;
  'instance-id'?: string | undefined;
  /** A deployed CloudFormation stack whose outputs name the tables. */
  stack?: string | undefined;
  region?: string | undefined;
  'tenants-table'?: string | undefined;
}

/** Injectable for tests: the environment, where output goes, a CloudFormation client. */
export interface TokenCreateContext {
  env?: NodeJS.ProcessEnv;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  cloudFormation?: CloudFormationClient;
}

interface TenantStore {
  tenants: TenantRepository;
  /** Where the tenant goes, for the operator (table, region, stack or endpoint). */
  where: string;
  close(): Promise<void>;
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** The store the local stack uses: its running dynalite, DYNAMODB_ENDPOINT, or the data dir opened directly. */
async function openLocalTenants(env: NodeJS.ProcessEnv): Promise<TenantStore> {
  const dataDir = dataDirFromEnv(env);
  let endpoint = env.DYNAMODB_ENDPOINT || undefined;
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
  // Our own dynalite takes any key; an explicit endpoint gets what credentials.ts decides:
  // local keys unless real ones are configured, the standard chain for AWS itself.
  const dynamoCredentials = env.DYNAMODB_ENDPOINT
    ? endpointCredentials(endpoint, 'dynamodb', env)
    : DYNALITE_CREDENTIALS;
  const config: StoreConfig = {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...DEFAULT_TABLES,
    ...(env.TENANTS_TABLE ? { tenantsTable: env.TENANTS_TABLE } : {}),
    dynamoEndpoint: endpoint,
    ...(dynamoCredentials ? { dynamoCredentials } : {}),
  };
  const clients = createStoreClients(config);
  const where = `table ${config.tenantsTable} at ${endpoint}`;
  if (!dynamoCredentials) await requireCredentialsOrClose(clients, `DynamoDB ${where}`);
  if (emulator) await ensureTables(clients, config);
  return {
    tenants: new TenantRepository(clients, config.tenantsTable),
    where,
    async close() {
      destroyStoreClients(clients);
      await emulator?.close();
    },
  };
}

/**
 * A deployed stack's tenants table: named by --tenants-table or the stack's
 * TenantsTableName output, in real DynamoDB with the standard credential
 * chain (or at DYNAMODB_ENDPOINT, for DynamoDB-compatible stores).
 */
async function openDeployedTenants(
  values: TokenCreateValues,
  context: TokenCreateContext,
  env: NodeJS.ProcessEnv,
): Promise<TenantStore> {
  const flagTable = values['tenants-table'];
  if (flagTable !== undefined && !TABLE_NAME.test(flagTable)) {
    throw new UsageError(`--tenants-table must be a DynamoDB table name, got "${flagTable}"`);
  }
  const { region, cloudFormation } = context.cloudFormation
    ? {
        region: await context.cloudFormation.config.region(),
        cloudFormation: context.cloudFormation,
      }
    : await awsRegionAndClient(values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION);
  try {
    const outputs = values.stack ? await readStackOutputs(cloudFormation, values.stack) : {};
    const tenantsTable =
      flagTable ??
      (values.stack ? requireOutput(outputs, 'TenantsTableName', values.stack) : undefined);
    const config = deployedStoreConfig(region, outputs, tenantsTable ? { tenantsTable } : {}, env);
    const clients = createStoreClients(config);
    const where = `table ${config.tenantsTable} in ${config.dynamoEndpoint ?? region}${values.stack ? ` (stack ${values.stack})` : ''}`;
    if (!config.dynamoCredentials) await requireCredentialsOrClose(clients, `DynamoDB ${where}`);
    return {
      tenants: new TenantRepository(clients, config.tenantsTable),
      where,
      async close() {
        destroyStoreClients(clients);
      },
    };
  } finally {
    if (!context.cloudFormation) cloudFormation.destroy();
  }
}

/** Fails early, in one line, when the standard chain has no credentials. */
async function requireCredentialsOrClose(clients: StoreClients, what: string): Promise<void> {
  try {
    await requireCredentials(clients.dynamo, what);
  } catch (error) {
    destroyStoreClients(clients);
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A store failure the operator can act on, as one line; anything else unchanged. */
function explainStoreFailure(error: unknown, where: string): unknown {
  if (!(error instanceof StoreUnavailableError)) return error;
  const cause = error.cause as { name?: string; message?: string } | undefined;
  if (cause?.name === 'ResourceNotFoundException') {
    return new UsageError(
      `${where}: the table does not exist (check --stack / --region / the table name)`,
    );
  }
  if (cause?.name === 'AccessDeniedException' || cause?.name === 'UnrecognizedClientException') {
    return new UsageError(
      `${where}: ${cause.name}; the credentials in use may not write this table (${(cause.message ?? '').slice(0, 200)})`,
    );
  }
  return error;
}

/**
 * `wirefleet token create --tenant NAME [--instance-id N] [--stack NAME [--region R]]
 * [--tenants-table NAME]`: creates the tenant if it is new (with its own
 * instance ID), issues a token and prints it once. --stack or --tenants-table
 * means a deployed stack; otherwise the local one.
 */
export async function runTokenCreate(
  values: TokenCreateValues,
  context: TokenCreateContext = {},
): Promise<void> {
  const env = context.env ?? process.env;
  const stdout = context.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = context.stderr ?? ((text: string) => process.stderr.write(text));
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
  if (values.region !== undefined && !values.stack && !values['tenants-table']) {
    throw new UsageError('--region goes with --stack NAME or --tenants-table NAME');
  }
  const deployed = Boolean(values.stack || values['tenants-table']);
  const store = deployed
    ? await openDeployedTenants(values, context, env)
    : await openLocalTenants(env);
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
      stderr(
        `created tenant ${tenant.name} with LISP instance ID ${tenant.instanceId} in ${store.where}\n`,
      );
    }
    const token = await store.tenants.issueToken(tenant.name, 'wirefleet token create');
    stderr(`token for tenant ${tenant.name} (shown once; only its hash is stored):\n`);
    stdout(`${token}\n`);
  } catch (error) {
    throw explainStoreFailure(error, store.where);
  } finally {
    await store.close();
  }
}

export interface TokenRevokeValues {
  stack?: string | undefined;
  region?: string | undefined;
  'tenants-table'?: string | undefined;
}

/**
 * `wirefleet token revoke [--stack NAME [--region R] | --tenants-table NAME]`:
 * the token to revoke comes on stdin (first line), never as an argument, so it
 * stays out of shell history and the process list. Exit 1 when no such token.
 */
export async function runTokenRevoke(
  values: TokenRevokeValues,
  readToken: () => Promise<string>,
  context: TokenCreateContext = {},
): Promise<number> {
  const env = context.env ?? process.env;
  const stderr = context.stderr ?? ((text: string) => process.stderr.write(text));
  if (values.region !== undefined && !values.stack && !values['tenants-table']) {
    throw new UsageError('--region goes with --stack NAME or --tenants-table NAME');
  }
  const token = (await readToken()).split(/\r?\n/, 1)[0]!.trim();
  if (!token)
    throw new UsageError(
      'give the token to revoke on stdin, e.g. wirefleet token revoke < token.txt',
    );
  const deployed = Boolean(values.stack || values['tenants-table']);
  const store = deployed
    ? await openDeployedTenants(values, context, env)
    : await openLocalTenants(env);
  try {
    const tenant = await store.tenants.revokeToken(token);
    if (tenant === undefined) {
      stderr(`no such token in ${store.where}: nothing revoked\n`);
      return 1;
    }
    stderr(
      `revoked a token of tenant ${tenant} in ${store.where}; API instances that used it in the last ${TenantRepository.TOKEN_CACHE_MS / 1000} s stop accepting it within that time\n`,
    );
    return 0;
  } catch (error) {
    throw explainStoreFailure(error, store.where);
  } finally {
    await store.close();
  }
}
