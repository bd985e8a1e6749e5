import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES, type StoreConfig } from '../../functions/store/config.js';
import {
  endpointCredentials,
  LOCAL_DYNAMODB_CREDENTIALS,
  LOCAL_S3_CREDENTIALS,
} from '../../functions/store/credentials.js';
import { ensureTables } from '../../functions/store/schema.js';
import { TenantRepository } from '../../functions/store/tenants.js';
import { readStackOutputs, StackOutputsError } from '../../infra/cli/stack-outputs.js';
import { runTokenCreate } from '../../infra/cli/token.js';
import {
  DYNALITE_CREDENTIALS,
  type RunningEmulator,
  startDynalite,
} from '../../infra/local/emulators.js';

const CLI = path.resolve('bin/wirefleet.js');
const run = promisify(execFile);

let dynalite: RunningEmulator;
let home: string;
let dataDir: string;
/** Tables of a pretend deployed stack, living in dynalite (an "external" DynamoDB endpoint). */
const DEPLOYED_TENANTS = `Wirefleet-TenantsTable-${process.pid}`;

const configFor = (tenantsTable: string): StoreConfig => ({
  region: 'eu-west-1',
  ...DEFAULT_TABLES,
  tenantsTable,
  dynamoEndpoint: dynalite.endpoint,
  dynamoCredentials: DYNALITE_CREDENTIALS,
});

async function tenantsIn(table: string) {
  const clients = createStoreClients(configFor(table));
  return {
    repo: new TenantRepository(clients, table),
    close: () => destroyStoreClients(clients),
  };
}

beforeAll(async () => {
  dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
  home = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-home-'));
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-token-'));
  for (const table of [DEFAULT_TABLES.tenantsTable, DEPLOYED_TENANTS]) {
    const clients = createStoreClients(configFor(table));
    await ensureTables(clients, configFor(table));
    destroyStoreClients(clients);
  }
});
afterAll(async () => {
  await dynalite?.close();
  if (home) await rm(home, { recursive: true, force: true });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/**
 * An environment with no AWS credentials anywhere: no AWS_* variables, a HOME
 * without ~/.aws, and no instance metadata service to ask.
 */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('AWS_') && !['DYNAMODB_ENDPOINT', 'S3_ENDPOINT'].includes(key))
      env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    WIREFLEET_DATA_DIR: dataDir,
    ...extra,
  };
}

async function cli(args: string[], env: NodeJS.ProcessEnv, stdin?: string) {
  try {
    const child = run(process.execPath, [CLI, ...args], { env });
    child.child.stdin?.end(stdin ?? '');
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('credentials for store endpoints', () => {
  it('gives explicit non-AWS endpoints local keys unless real ones are configured', () => {
    expect(endpointCredentials('http://127.0.0.1:4567', 'dynamodb', {})).toEqual(
      LOCAL_DYNAMODB_CREDENTIALS,
    );
    expect(endpointCredentials('http://dynamodb-local:8000', 'dynamodb', {})).toEqual(
      LOCAL_DYNAMODB_CREDENTIALS,
    );
    expect(endpointCredentials('http://[::1]:4568', 's3', {})).toEqual(LOCAL_S3_CREDENTIALS);
    expect(
      endpointCredentials('http://127.0.0.1:4567', 'dynamodb', {
        AWS_ACCESS_KEY_ID: 'AKIA',
        AWS_SECRET_ACCESS_KEY: 'secret',
      }),
    ).toBeUndefined();
    expect(
      endpointCredentials('http://127.0.0.1:4567', 'dynamodb', { AWS_PROFILE: 'dev' }),
    ).toBeUndefined();
  });

  it('leaves AWS itself (no endpoint, or *.amazonaws.com) to the standard chain', () => {
    expect(endpointCredentials(undefined, 'dynamodb', {})).toBeUndefined();
    expect(
      endpointCredentials('https://dynamodb.eu-west-1.amazonaws.com', 'dynamodb', {}),
    ).toBeUndefined();
    expect(endpointCredentials('https://s3.cn-north-1.amazonaws.com.cn', 's3', {})).toBeUndefined();
  });
});

describe('wirefleet token create as a real process with no AWS credentials anywhere', () => {
  it('works against an explicit DYNAMODB_ENDPOINT (issue 9: it used to fail with CredentialsProviderError)', async () => {
    const out = await cli(
      ['token', 'create', '--tenant', 'ext-acme'],
      bareEnv({ DYNAMODB_ENDPOINT: dynalite.endpoint }),
    );
    expect(out.stderr).not.toMatch(/CredentialsProviderError/);
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(token).toMatch(/^wf_/);
    const { repo, close } = await tenantsIn(DEFAULT_TABLES.tenantsTable);
    try {
      expect((await repo.resolveToken(token))?.name).toBe('ext-acme');
    } finally {
      close();
    }
  });

  it('writes to the table --tenants-table names (a deployed store at an external endpoint)', async () => {
    const out = await cli(
      ['token', 'create', '--tenant', 'deployed-acme', '--tenants-table', DEPLOYED_TENANTS],
      bareEnv({ DYNAMODB_ENDPOINT: dynalite.endpoint, AWS_REGION: 'eu-west-1' }),
    );
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`table ${DEPLOYED_TENANTS} in ${dynalite.endpoint}`);
    const { repo, close } = await tenantsIn(DEPLOYED_TENANTS);
    const other = await tenantsIn(DEFAULT_TABLES.tenantsTable);
    try {
      expect((await repo.resolveToken(out.stdout.trim()))?.name).toBe('deployed-acme');
      expect(await other.repo.get('deployed-acme')).toBeUndefined();
    } finally {
      close();
      other.close();
    }
  });

  it('says in one line what is missing when a deployed stack needs AWS credentials (exit 2)', async () => {
    const out = await cli(
      ['token', 'create', '--tenant', 'acme', '--stack', 'Wirefleet', '--region', 'eu-west-1'],
      bareEnv(),
    );
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    const lines = out.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^wirefleet: no AWS credentials found for CloudFormation DescribeStacks on stack Wirefleet: set AWS_PROFILE .*aws configure.*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
  });

  it('says so too for an AWS DynamoDB endpoint, before touching it', async () => {
    const out = await cli(
      ['token', 'create', '--tenant', 'acme'],
      bareEnv({
        DYNAMODB_ENDPOINT: 'https://dynamodb.eu-west-1.amazonaws.com',
        AWS_REGION: 'eu-west-1',
      }),
    );
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(
      /no AWS credentials found for DynamoDB table wirefleet-tenants at https:\/\/dynamodb\.eu-west-1\.amazonaws\.com: set AWS_PROFILE/,
    );
  });

  it('asks for a region when a deployed stack has none to go by', async () => {
    const out = await cli(
      ['token', 'create', '--tenant', 'acme', '--stack', 'Wirefleet'],
      bareEnv(),
    );
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^wirefleet: no AWS region: pass --region R/);
  });
});

describe('wirefleet token revoke as a real process', () => {
  it('deletes the token read from stdin, so the store no longer resolves it; an unknown one exits 1', async () => {
    const env = bareEnv({ DYNAMODB_ENDPOINT: dynalite.endpoint });
    const created = await cli(['token', 'create', '--tenant', 'revoke-acme'], env);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    const kept = (await cli(['token', 'create', '--tenant', 'revoke-acme'], env)).stdout.trim();

    const revoked = await cli(['token', 'revoke'], env, `${token}\n`);
    expect(revoked.code).toBe(0);
    expect(revoked.stderr).toMatch(/revoked a token of tenant revoke-acme .*within that time/);
    // A fresh repository (no cache) reads the store itself: the token is gone, the other stays.
    const { repo, close } = await tenantsIn(DEFAULT_TABLES.tenantsTable);
    try {
      expect(await repo.resolveToken(token)).toBeUndefined();
      expect((await repo.resolveToken(kept))?.name).toBe('revoke-acme');
    } finally {
      close();
    }

    const again = await cli(['token', 'revoke'], env, `${token}\n`);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no such token .*nothing revoked/);
    const empty = await cli(['token', 'revoke'], env, '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/on stdin/);
  });

  it("drops the revoking instance's own cache entry at once", async () => {
    const { repo, close } = await tenantsIn(DEFAULT_TABLES.tenantsTable);
    try {
      await repo.create('revoke-cache');
      const token = await repo.issueToken('revoke-cache');
      expect((await repo.resolveToken(token))?.name).toBe('revoke-cache'); // now cached
      expect(await repo.revokeToken(token)).toBe('revoke-cache');
      expect(await repo.resolveToken(token)).toBeUndefined();
    } finally {
      close();
    }
  });
});

describe('token create --stack reads the table from the stack outputs (aws-sdk-client-mock: CloudFormation cannot run here; DynamoDB is real dynalite)', () => {
  const cfMock = mockClient(CloudFormationClient);
  afterEach(() => cfMock.reset());
  afterAll(() => cfMock.restore());

  const cloudFormation = () =>
    new CloudFormationClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' },
    });
  const describeOutputs = (outputs: Record<string, string>) =>
    cfMock.on(DescribeStacksCommand, { StackName: 'Wirefleet' }).resolves({
      Stacks: [
        {
          StackName: 'Wirefleet',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(0),
          Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({
            OutputKey,
            OutputValue,
          })),
        },
      ],
    });

  it('maps the outputs by their contract keys and ignores others', async () => {
    describeOutputs({
      ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
      TenantsTableName: 'wirefleet-tenants',
      IngestDlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/wirefleet-ingest-dlq',
      ExportsOutputRefSomething: 'cdk-internal',
    });
    expect(await readStackOutputs(cloudFormation(), 'Wirefleet')).toEqual({
      ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
      TenantsTableName: 'wirefleet-tenants',
      IngestDlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/wirefleet-ingest-dlq',
    });
  });

  it('names a stack that does not exist, and its region', async () => {
    cfMock
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }),
      );
    const error = await readStackOutputs(cloudFormation(), 'Nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StackOutputsError);
    expect((error as Error).message).toBe(
      'stack Nope does not exist in eu-west-1 (deploy it with npx cdk deploy, or pass --region)',
    );
  });

  it('creates the tenant and token in the TenantsTableName table', async () => {
    describeOutputs({ TenantsTableName: DEPLOYED_TENANTS, PacketsTableName: 'x-packets' });
    const stdout: string[] = [];
    const stderr: string[] = [];
    await runTokenCreate(
      { tenant: 'stack-acme', stack: 'Wirefleet' },
      {
        cloudFormation: cloudFormation(),
        env: { DYNAMODB_ENDPOINT: dynalite.endpoint },
        stdout: (t) => stdout.push(t),
        stderr: (t) => stderr.push(t),
      },
    );
    expect(cfMock.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(stderr.join('')).toContain(
      `table ${DEPLOYED_TENANTS} in ${dynalite.endpoint} (stack Wirefleet)`,
    );
    const { repo, close } = await tenantsIn(DEPLOYED_TENANTS);
    try {
      expect((await repo.resolveToken(stdout.join('').trim()))?.name).toBe('stack-acme');
    } finally {
      close();
    }
  });

  it('refuses a stack without a TenantsTableName output rather than guess', async () => {
    describeOutputs({ ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/' });
    await expect(
      runTokenCreate(
        { tenant: 'stack-acme', stack: 'Wirefleet' },
        { cloudFormation: cloudFormation(), env: { DYNAMODB_ENDPOINT: dynalite.endpoint } },
      ),
    ).rejects.toThrow(/stack Wirefleet has no output TenantsTableName/);
  });
});
