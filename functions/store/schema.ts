import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { StoreClients } from './clients.js';
import type { StoreConfig } from './config.js';

/**
 * Table definitions, shared by the local bootstrap and (later) the CDK stack.
 * tenants: pk/sk items for tenant metadata, tokens, mappings, counters.
 * packets: pk = tenant, sk = time-ordered packet id.
 * flows: agent uplink data (flow records, agent events), pk/sk items that
 * expire through DynamoDB TTL on TTL_ATTRIBUTE.
 */
export function tableDefinitions(config: StoreConfig): CreateTableCommandInput[] {
  const keyed = (TableName: string): CreateTableCommandInput => ({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  });
  return [keyed(config.tenantsTable), keyed(config.packetsTable), keyed(config.flowsTable)];
}

/** Items that expire carry this attribute (epoch seconds). */
export const TTL_ATTRIBUTE = 'expires_at';

/**
 * Tables with TTL enabled, for the CDK stack. The emulators have no TTL
 * (dynalite lacks UpdateTimeToLive), so ensureTables does not apply it and
 * expired items stay readable locally until deleted.
 */
export function timeToLiveTables(
  config: StoreConfig,
): { TableName: string; AttributeName: string }[] {
  return [{ TableName: config.flowsTable, AttributeName: TTL_ATTRIBUTE }];
}

/** Creates the tables and the bucket when they are missing (local stacks and tests). */
export async function ensureStoreResources(
  clients: StoreClients,
  config: StoreConfig,
): Promise<void> {
  await ensureTables(clients, config);
  await ensureBucket(clients, config);
}

export async function ensureTables(clients: StoreClients, config: StoreConfig): Promise<void> {
  for (const definition of tableDefinitions(config)) {
    const TableName = definition.TableName!;
    try {
      await clients.dynamo.send(new DescribeTableCommand({ TableName }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      await clients.dynamo.send(new CreateTableCommand(definition));
    }
    await waitUntilTableExists(
      { client: clients.dynamo, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.5 },
      { TableName },
    );
  }
}

export async function ensureBucket(clients: StoreClients, config: StoreConfig): Promise<void> {
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: config.pcapBucket }));
  } catch {
    await clients.s3.send(new CreateBucketCommand({ Bucket: config.pcapBucket }));
  }
}
