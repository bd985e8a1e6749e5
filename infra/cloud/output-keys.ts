/**
 * The CloudFormation outputs the stack declares, by these exact keys. The CLI
 * reads them with DescribeStacks (token create, ingest redrive), so this file
 * imports nothing from aws-cdk-lib: the CLI must not load the CDK.
 */
export const OUTPUT_KEYS = [
  'ApiUrl',
  'IotDataEndpoint',
  'PcapBucketName',
  'TenantsTableName',
  'PacketsTableName',
  'FlowsTableName',
  'IngestDlqUrl',
  'AgentPolicyName',
  'ConsoleUrl',
] as const;
export type OutputKey = (typeof OUTPUT_KEYS)[number];
