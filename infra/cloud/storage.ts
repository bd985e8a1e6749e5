import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_TABLES } from '../../functions/store/config.js';
import { TTL_ATTRIBUTE, tableDefinitions } from '../../functions/store/schema.js';
import type { WirefleetSettings } from './settings.js';

export type TableRole = 'tenants' | 'packets' | 'flows';

/** Where PCAP exports and agent evidence live: functions/pcap/export.ts writes `tenants/<tenant>/...`. */
export const TENANT_OBJECT_PREFIX = 'tenants/';
/** Evidence window objects and their scratch objects: tenants/<tenant>/windows/... */
export const WINDOW_OBJECT_PREFIX = 'tenants/*/windows/';

/**
 * The three tables and the PCAP bucket. Names and keys come from
 * functions/store (the local stack creates the same tables from the same
 * definitions); everything that holds data is RETAINed.
 */
export class Storage extends Construct {
  readonly tables: Record<TableRole, Table>;
  readonly pcapBucket: Bucket;
  readonly accessLogBucket: Bucket;

  constructor(scope: Construct, id: string, settings: WirefleetSettings) {
    super(scope, id);
    this.tables = {
      tenants: this.table('TenantsTable', DEFAULT_TABLES.tenantsTable, settings),
      packets: this.table('PacketsTable', DEFAULT_TABLES.packetsTable, settings),
      flows: this.table('FlowsTable', DEFAULT_TABLES.flowsTable, settings),
    };

    // The log bucket does not log its own access: that would log its own log
    // deliveries in a loop, and a third bucket only moves the question. cdk-nag's
    // S1 accepts a bucket that is another bucket's log target, so no
    // acknowledgment is needed (test/unit/cloud/nag.test.ts rejects unused ones).
    this.accessLogBucket = new Bucket(this, 'AccessLogBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // S3 server access logging can deliver only to SSE-S3 buckets.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(settings.accessLogRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.pcapBucket = new Bucket(this, 'PcapBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // SSE-S3, not KMS: presigned downloads then need no kms:Decrypt, and no key costs money at rest.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'pcap-bucket/',
      lifecycleRules: [
        {
          // The bucket holds nothing but PCAPs, so the rule covers it whole.
          id: 'expire-pcaps',
          expiration: Duration.days(settings.pcapRetentionDays),
        },
        {
          id: 'abort-incomplete-multipart-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * `Table` (AWS::DynamoDB::Table), not `TableV2` (AWS::DynamoDB::GlobalTable):
   * wirefleet is single-region, the local stack creates these with CreateTable
   * from the same definitions, and cdk-nag's DDB3 (point-in-time recovery)
   * inspects only CfnTable, so with Table the check actually guards PITR.
   * Moving to TableV2 later would mean a different resource type (a replacement).
   */
  private table(id: string, name: string, settings: WirefleetSettings): Table {
    const definition = tableDefinitions({ region: '', ...DEFAULT_TABLES }).find(
      (d) => d.TableName === name,
    );
    if (!definition) throw new Error(`functions/store/schema.ts defines no table ${name}`);
    if (definition.BillingMode !== 'PAY_PER_REQUEST') {
      throw new Error(`table ${name} is not on-demand in functions/store/schema.ts`);
    }
    const key = (type: 'HASH' | 'RANGE') => {
      const name = definition.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
      if (!name) return undefined;
      const attr = definition.AttributeDefinitions?.find((a) => a.AttributeName === name);
      const kind = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY }[
        attr?.AttributeType ?? 'S'
      ];
      return { name, type: kind };
    };
    const partitionKey = key('HASH');
    if (!partitionKey) throw new Error(`table ${name} has no partition key`);
    const sortKey = key('RANGE');
    return new Table(this, id, {
      tableName: name,
      partitionKey,
      ...(sortKey ? { sortKey } : {}),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Items without the attribute (or with a non-number) never expire, so TTL is safe on every table.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: settings.deletionProtection,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
