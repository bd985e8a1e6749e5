import { Arn, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/**
 * Explicit grants, written per function instead of grantReadWriteData and
 * friends, which add Scan, BatchWriteItem, DescribeTable, stream reads and
 * bucket-wide object access that no wirefleet code uses.
 */
export type DynamoItemAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem';

/** Item-level actions on one table. The tables have no indexes, so the table ARN is the whole scope. */
export const tableStatement = (table: ITable, actions: DynamoItemAction[]): PolicyStatement =>
  new PolicyStatement({
    effect: Effect.ALLOW,
    actions: actions.map((a) => `dynamodb:${a}`),
    resources: [table.tableArn],
  });

/** Object actions under one key prefix of a bucket. */
export const objectStatement = (bucket: IBucket, prefix: string, actions: string[]) =>
  new PolicyStatement({
    effect: Effect.ALLOW,
    actions: actions.map((a) => `s3:${a}`),
    resources: [bucket.arnForObjects(`${prefix}*`)],
  });

/** arn:<partition>:iot:<region>:<account>:<resource> (no Fn::Sub, so `${iot:...}` stays literal). */
export const iotArn = (scope: Construct, resource: string): string =>
  Arn.format({ service: 'iot', resource, arnFormat: ArnFormat.NO_RESOURCE_NAME }, Stack.of(scope));

/**
 * cdk-nag's name for a wildcard resource, as IAM5 reports it (`Resource::...`):
 * pseudo parameters and GetAtt references flattened to `<AWS::Region>`, `<Logical.Arn>`.
 */
export const nagIotResource = (resource: string): string =>
  `Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:${resource}`;

export const nagBucketObjects = (bucket: IBucket, prefix: string): string => {
  const resolved = Stack.of(bucket).resolve(bucket.bucketArn) as {
    'Fn::GetAtt'?: [string, string];
  };
  const logicalId = resolved['Fn::GetAtt']?.[0];
  if (!logicalId) throw new Error('the bucket ARN is not a GetAtt of a bucket in this stack');
  return `Resource::<${logicalId}.Arn>/${prefix}*`;
};

/** Acknowledges one IAM5 wildcard finding on a role, with the reason it is needed. */
export const acknowledgeWildcard = (role: Construct, finding: string, reason: string): void =>
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
