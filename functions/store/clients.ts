import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoreConfig } from './config.js';
import { endpointCredentials } from './credentials.js';

export interface StoreClients {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
}

/**
 * Real AWS SDK v3 clients, pointed at AWS or at an emulator by configuration alone.
 * Credentials: the configured ones, else local ones for an emulator endpoint,
 * else the standard chain (see credentials.ts).
 */
export function createStoreClients(config: StoreConfig): StoreClients {
  const dynamoCredentials =
    config.dynamoCredentials ?? endpointCredentials(config.dynamoEndpoint, 'dynamodb');
  const s3Credentials = config.s3Credentials ?? endpointCredentials(config.s3Endpoint, 's3');
  const dynamo = new DynamoDBClient({
    region: config.region,
    ...(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {}),
    ...(dynamoCredentials ? { credentials: dynamoCredentials } : {}),
    maxAttempts: 4,
  });
  const doc = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const s3 = new S3Client({
    region: config.region,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
    ...(s3Credentials ? { credentials: s3Credentials } : {}),
    // Flexible checksums send aws-chunked bodies that S3-compatible stores such as
    // s3rver store verbatim; send checksums only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return { dynamo, doc, s3 };
}

export function destroyStoreClients(clients: StoreClients): void {
  clients.doc.destroy();
  clients.dynamo.destroy();
  clients.s3.destroy();
}
