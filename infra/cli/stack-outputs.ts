import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import {
  endpointCredentials,
  isMissingCredentials,
  MissingCredentialsError,
  requireCredentials,
} from '../../functions/store/credentials.js';
import { OUTPUT_KEYS, type OutputKey } from '../cloud/output-keys.js';
import { UsageError } from './options.js';

export type StackOutputs = Partial<Record<OutputKey, string>>;

export const DEFAULT_STACK_NAME = 'Wirefleet';
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** The stack does not exist, is not readable, or lacks an output the command needs. */
export class StackOutputsError extends UsageError {}

/**
 * A CloudFormation client with the standard credential chain and the region
 * from --region, AWS_REGION / AWS_DEFAULT_REGION or the profile's config,
 * and that region, resolved (a UsageError when there is none).
 */
export async function awsRegionAndClient(
  region: string | undefined,
): Promise<{ region: string; cloudFormation: CloudFormationClient }> {
  const cloudFormation = new CloudFormationClient({ ...(region ? { region } : {}) });
  const resolved = await cloudFormation.config.region().catch(() => undefined);
  if (!resolved) {
    throw new UsageError(
      'no AWS region: pass --region R, or set AWS_REGION, or give the profile a region (aws configure)',
    );
  }
  return { region: resolved, cloudFormation };
}

/** DescribeStacks → the stack's known outputs, by key. */
export async function readStackOutputs(
  client: CloudFormationClient,
  stackName: string,
): Promise<StackOutputs> {
  if (!STACK_NAME.test(stackName)) {
    throw new UsageError(`--stack must be a CloudFormation stack name, got "${stackName}"`);
  }
  await requireCredentials(client, `CloudFormation DescribeStacks on stack ${stackName}`);
  let described: DescribeStacksCommandOutput;
  try {
    described = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    if (isMissingCredentials(error)) {
      throw new MissingCredentialsError(`CloudFormation DescribeStacks on stack ${stackName}`, {
        cause: error,
      });
    }
    const { name, message } = error as { name?: string; message?: string };
    if (name === 'ValidationError' && /does not exist/i.test(message ?? '')) {
      const region = await client.config.region().catch(() => '?');
      throw new StackOutputsError(
        `stack ${stackName} does not exist in ${region} (deploy it with npx cdk deploy, or pass --region)`,
      );
    }
    throw new StackOutputsError(
      `could not read stack ${stackName}: ${name ?? 'Error'}${message ? ` (${message.slice(0, 200)})` : ''}`,
    );
  }
  const stack = described.Stacks?.[0];
  if (!stack) throw new StackOutputsError(`stack ${stackName} was not found`);
  const known = new Set<string>(OUTPUT_KEYS);
  const outputs: StackOutputs = {};
  for (const output of stack.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue && known.has(output.OutputKey)) {
      outputs[output.OutputKey as OutputKey] = output.OutputValue;
    }
  }
  return outputs;
}

/** One output, or a StackOutputsError that names it. */
export function requireOutput(outputs: StackOutputs, key: OutputKey, stackName: string): string {
  const value = outputs[key];
  if (!value) {
    throw new StackOutputsError(
      `stack ${stackName} has no output ${key}; is it deployed from this version of wirefleet?`,
    );
  }
  return value;
}

/**
 * The store of a deployed stack: table and bucket names from flags, else its
 * outputs, else TENANTS_TABLE / PACKETS_TABLE / FLOWS_TABLE / PCAP_BUCKET,
 * DynamoDB and S3 themselves unless DYNAMODB_ENDPOINT / S3_ENDPOINT say
 * otherwise, credentials as credentials.ts decides.
 */
export function deployedStoreConfig(
  region: string,
  outputs: StackOutputs,
  overrides: Partial<Pick<StoreConfig, 'tenantsTable' | 'packetsTable' | 'flowsTable'>>,
  env: NodeJS.ProcessEnv = process.env,
): StoreConfig {
  const dynamoEndpoint = env.DYNAMODB_ENDPOINT || undefined;
  const s3Endpoint = env.S3_ENDPOINT || undefined;
  const dynamoCredentials = endpointCredentials(dynamoEndpoint, 'dynamodb', env);
  const s3Credentials = endpointCredentials(s3Endpoint, 's3', env);
  return {
    region,
    tenantsTable:
      overrides.tenantsTable ??
      outputs.TenantsTableName ??
      env.TENANTS_TABLE ??
      DEFAULT_TABLES.tenantsTable,
    packetsTable:
      overrides.packetsTable ??
      outputs.PacketsTableName ??
      env.PACKETS_TABLE ??
      DEFAULT_TABLES.packetsTable,
    flowsTable:
      overrides.flowsTable ??
      outputs.FlowsTableName ??
      env.FLOWS_TABLE ??
      DEFAULT_TABLES.flowsTable,
    pcapBucket: outputs.PcapBucketName ?? env.PCAP_BUCKET ?? DEFAULT_TABLES.pcapBucket,
    ...(dynamoEndpoint ? { dynamoEndpoint } : {}),
    ...(s3Endpoint ? { s3Endpoint } : {}),
    ...(dynamoCredentials ? { dynamoCredentials } : {}),
    ...(s3Credentials ? { s3Credentials } : {}),
  };
}
