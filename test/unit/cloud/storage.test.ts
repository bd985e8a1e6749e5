import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TABLES } from '../../../functions/store/config.js';
import {
  TTL_ATTRIBUTE,
  tableDefinitions,
  timeToLiveTables,
} from '../../../functions/store/schema.js';
import { type FastSynth, synthFast } from './synth.js';

const TABLE_NAMES = [
  DEFAULT_TABLES.tenantsTable,
  DEFAULT_TABLES.packetsTable,
  DEFAULT_TABLES.flowsTable,
];

type Resource = {
  Properties: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

const tablesOf = (synth: FastSynth) =>
  Object.values(synth.template.findResources('AWS::DynamoDB::Table')) as Resource[];

const bucketWithLogging = (synth: FastSynth) => {
  const [entry] = Object.entries(
    synth.template.findResources('AWS::S3::Bucket', {
      Properties: { LoggingConfiguration: Match.anyValue() },
    }),
  );
  if (!entry) throw new Error('no bucket with access logging');
  return { id: entry[0], ...(entry[1] as Resource) };
};

describe('storage: DynamoDB tables', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  it('creates exactly the local tables, with the same names and keys as functions/store/schema.ts', () => {
    const tables = tablesOf(synth);
    expect(tables.map((t) => t.Properties.TableName).sort()).toEqual([...TABLE_NAMES].sort());
    for (const definition of tableDefinitions({ region: '', ...DEFAULT_TABLES })) {
      const table = tables.find((t) => t.Properties.TableName === definition.TableName)!;
      expect(table.Properties.KeySchema).toEqual(definition.KeySchema);
      expect(table.Properties.AttributeDefinitions).toEqual(definition.AttributeDefinitions);
    }
  });

  it('bills on demand, keeps point-in-time recovery and expires items on expires_at', () => {
    for (const table of tablesOf(synth)) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.ProvisionedThroughput).toBeUndefined();
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
      expect(table.Properties.TimeToLiveSpecification).toEqual({
        AttributeName: TTL_ATTRIBUTE,
        Enabled: true,
      });
    }
    // Every table the store expects TTL on has it on the same attribute.
    for (const ttl of timeToLiveTables({ region: '', ...DEFAULT_TABLES })) {
      const table = tablesOf(synth).find((t) => t.Properties.TableName === ttl.TableName)!;
      expect(table.Properties.TimeToLiveSpecification.AttributeName).toBe(ttl.AttributeName);
    }
  });

  it('retains the tables and protects them from deletion by default', () => {
    for (const table of tablesOf(synth)) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });

  it('turns deletion protection off with -c deletionProtection=false, and still retains', () => {
    // The CLI hands -c values over as strings.
    const throwaway = synthFast({ deletionProtection: 'false' });
    for (const table of tablesOf(throwaway)) {
      expect(table.Properties.DeletionProtectionEnabled).toBe(false);
      expect(table.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('storage: PCAP bucket and its access-log bucket', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  const hardened = (bucket: Resource) => {
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ],
    });
    expect(bucket.Properties.OwnershipControls).toEqual({
      Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
  };

  const tlsOnly = (bucketId: string) => {
    synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [
              { 'Fn::GetAtt': [bucketId, 'Arn'] },
              { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
            ],
          },
        ]),
      },
    });
  };

  it('PCAP bucket: no public access, SSE, TLS only, retained, access logs to the log bucket', () => {
    const bucket = bucketWithLogging(synth);
    hardened(bucket);
    tlsOnly(bucket.id);
    const logging = bucket.Properties.LoggingConfiguration;
    expect(logging.LogFilePrefix).toBe('pcap-bucket/');
    const logBucketId = logging.DestinationBucketName.Ref as string;
    expect(logBucketId).not.toBe(bucket.id);
    const logBucket = synth.template.toJSON().Resources[logBucketId] as Resource;
    hardened(logBucket);
    tlsOnly(logBucketId);
    expect(logBucket.Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'expire-access-logs',
        Status: 'Enabled',
        ExpirationInDays: 90,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
  });

  it('expires PCAPs after 30 days by default and aborts multipart uploads after 1 day', () => {
    expect(bucketWithLogging(synth).Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-pcaps', Status: 'Enabled', ExpirationInDays: 30 },
      {
        Id: 'abort-incomplete-multipart-uploads',
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
  });

  it('takes the retention periods from context', () => {
    const custom = synthFast({ pcapRetentionDays: '7', accessLogRetentionDays: 400 });
    const bucket = bucketWithLogging(custom);
    expect(bucket.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({
      Id: 'expire-pcaps',
      ExpirationInDays: 7,
    });
    const logBucketId = bucket.Properties.LoggingConfiguration.DestinationBucketName.Ref;
    const logBucket = custom.template.toJSON().Resources[logBucketId] as Resource;
    expect(logBucket.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(400);
  });
});
