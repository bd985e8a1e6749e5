/**
 * Where the store lives. The same code runs against AWS, the local emulators
 * (dynalite, s3rver) and DynamoDB Local: only endpoints and credentials differ.
 */
export interface StoreConfig {
  region: string;
  tenantsTable: string;
  packetsTable: string;
  /** Agent uplink data: flow records and agent events (items expire by TTL). */
  flowsTable: string;
  pcapBucket: string;
  /** Days evidence segments are kept (PCAP_RETENTION_DAYS: the bucket's lifecycle expiry). */
  segmentRetentionDays?: number;
  /** Set for emulators or S3-compatible stores; unset means AWS itself. */
  dynamoEndpoint?: string;
  s3Endpoint?: string;
  /** Explicit credentials (emulators); unset means the default provider chain. */
  dynamoCredentials?: { accessKeyId: string; secretAccessKey: string };
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const DEFAULT_TABLES = {
  tenantsTable: 'wirefleet-tenants',
  packetsTable: 'wirefleet-packets',
  flowsTable: 'wirefleet-flows',
  pcapBucket: 'wirefleet-pcaps',
} as const;

/** Reads the store configuration from the environment (Lambda and CLI alike). */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    tenantsTable: env.TENANTS_TABLE ?? DEFAULT_TABLES.tenantsTable,
    packetsTable: env.PACKETS_TABLE ?? DEFAULT_TABLES.packetsTable,
    flowsTable: env.FLOWS_TABLE ?? DEFAULT_TABLES.flowsTable,
    pcapBucket: env.PCAP_BUCKET ?? DEFAULT_TABLES.pcapBucket,
    ...(retentionDays(env.PCAP_RETENTION_DAYS) !== undefined
      ? { segmentRetentionDays: retentionDays(env.PCAP_RETENTION_DAYS)! }
      : {}),
    ...(env.DYNAMODB_ENDPOINT ? { dynamoEndpoint: env.DYNAMODB_ENDPOINT } : {}),
    ...(env.S3_ENDPOINT ? { s3Endpoint: env.S3_ENDPOINT } : {}),
  };
}

/** A whole number of days, 1..3650, or undefined. */
function retentionDays(value: string | undefined): number | undefined {
  const days = Number(value);
  return value !== undefined && Number.isInteger(days) && days >= 1 && days <= 3650
    ? days
    : undefined;
}
