import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { handlerEntry, REPO_ROOT } from '../../../infra/cloud/paths.js';
import { asArray, type FastSynth, flatten, synthFast } from './synth.js';

type Resource = { Type: string; Properties: Record<string, any> };
interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: unknown;
  NotResource?: unknown;
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface FoundStatement {
  where: string;
  statement: Statement;
}

const IOT = 'arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:';

/**
 * Every wildcard resource the stack may grant, and why; nothing else may hold
 * a `*`. A log group's ARN attribute ends in `:*` (its streams), so it is
 * listed too. Each entry must be used, so the list cannot rot.
 */
const WILDCARD_ALLOW_LIST: { why: string; resource: RegExp; actions: string[] }[] = [
  {
    why: 'iot:CreateCertificateFromCsr supports no resource-level permission: AWS requires "*"',
    resource: /^\*$/,
    actions: ['iot:CreateCertificateFromCsr'],
  },
  {
    why: 'iot:DescribeEndpoint (deploy-time endpoint lookup) supports no resource-level permission',
    resource: /^\*$/,
    actions: ['iot:DescribeEndpoint'],
  },
  {
    why: 'certificate ids are assigned by CreateCertificateFromCsr, so cert/* in this account and region',
    resource: new RegExp(`^${literal(`${IOT}cert/*`)}$`),
    actions: [
      'iot:AttachPolicy',
      'iot:DescribeCertificate',
      'iot:UpdateCertificate',
      'iot:AttachThingPrincipal',
      'iot:DetachThingPrincipal',
    ],
  },
  {
    why: 'agent things are named wirefleet-<agent id>',
    resource: new RegExp(`^${literal(`${IOT}thing/wirefleet-*`)}$`),
    actions: [
      'iot:CreateThing',
      'iot:DescribeThing',
      'iot:UpdateThing',
      'iot:DeleteThing',
      'iot:AttachThingPrincipal',
      'iot:DetachThingPrincipal',
    ],
  },
  {
    why: 'commands to any agent, only on its commands topic',
    resource: new RegExp(`^${literal(`${IOT}topic/wirefleet/v1/agents/*/commands`)}$`),
    actions: ['iot:Publish'],
  },
  {
    why: 'evidence upload answers (ingest) to any agent, only on its uploads topic',
    resource: new RegExp(`^${literal(`${IOT}topic/wirefleet/v1/agents/*/uploads`)}$`),
    actions: ['iot:Publish'],
  },
  {
    why: 'evidence segment objects (ingest presigns their PUT, checks and deletes them)',
    resource: /^<StoragePcapBucket[0-9A-F]{8}\.Arn>\/tenants\/\*\/agents\/\*\/segments\/\*$/,
    actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
  },
  {
    why: 'window scratch objects (the API deletes them after joining a window)',
    resource: /^<StoragePcapBucket[0-9A-F]{8}\.Arn>\/tenants\/\*\/windows\/\*$/,
    actions: ['s3:DeleteObject'],
  },
  {
    why: 'PCAP objects under the tenant prefix (tenants/<tenant>/...)',
    resource: /^<StoragePcapBucket[0-9A-F]{8}\.Arn>\/tenants\/\*$/,
    actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject'],
  },
  {
    why: 'S3 server access log delivery into the log bucket, under each logged bucket prefix (PCAP, console, CloudFront logs)',
    resource:
      /^<StorageAccessLogBucket[0-9A-F]{8}\.Arn>\/(pcap-bucket|console-bucket|cloudfront-log-bucket)\/\*$/,
    actions: ['s3:PutObject'],
  },
  {
    why: 'CloudFront (OAC, this distribution only) reads the console files, which are named by content hash',
    resource: /^<ConsoleBucket[0-9A-F]{8}\.Arn>\/\*$/,
    actions: ['s3:GetObject'],
  },
  {
    why: 'the console deployment writes the hashed build files under assets/ (index.html by its exact key)',
    resource: /^<ConsoleBucket[0-9A-F]{8}\.Arn>\/assets\/\*$/,
    actions: ['s3:PutObject'],
  },
  {
    why: "a function's own log group (the Arn attribute ends in :*, covering its streams)",
    resource: /^<\w+Logs[0-9A-F]{8}\.Arn>$/,
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  },
];

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every policy document in the template: IAM, resource policies and the IoT policy. */
function allStatements(resources: Record<string, Resource>): FoundStatement[] {
  const found: FoundStatement[] = [];
  const add = (where: string, document: { Statement: Statement | Statement[] } | undefined) => {
    for (const statement of asArray(document?.Statement)) found.push({ where, statement });
  };
  for (const [id, r] of Object.entries(resources)) {
    switch (r.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::IoT::Policy':
        add(id, r.Properties.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        add(`${id} (trust)`, r.Properties.AssumeRolePolicyDocument);
        for (const p of asArray(r.Properties.Policies)) add(id, (p as any).PolicyDocument);
        break;
    }
  }
  return found;
}

/** Wildcard-bearing resources: a `*` anywhere, or a log group's ARN attribute. */
const isWildcard = (resources: Record<string, Resource>, resource: string) =>
  resource.includes('*') ||
  Object.entries(resources).some(
    ([id, r]) => r.Type === 'AWS::Logs::LogGroup' && resource === `<${id}.Arn>`,
  );

describe('IAM: no wildcard action, wildcard resources only where named', () => {
  let synth: FastSynth;
  let resources: Record<string, Resource>;
  let statements: FoundStatement[];
  beforeAll(() => {
    // With the export function, so its role is checked as well.
    synth = synthFast({}, { pcapExportEntry: handlerEntry('ingest') });
    resources = synth.template.toJSON().Resources;
    statements = allStatements(resources);
  });

  it('finds the policy documents of every role, resource policy and the IoT policy', () => {
    const kinds = new Set(statements.map((s) => resources[s.where.split(' ')[0]!]!.Type));
    expect([...kinds].sort()).toEqual([
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::IoT::Policy',
      'AWS::S3::BucketPolicy',
      'AWS::SQS::QueuePolicy',
    ]);
    expect(statements.length).toBeGreaterThan(20);
  });

  it('grants no action with a wildcard, and uses no NotAction or NotResource', () => {
    for (const { where, statement } of statements) {
      expect(statement.NotAction, where).toBeUndefined();
      expect(statement.NotResource, where).toBeUndefined();
      if (statement.Effect !== 'Allow') continue;
      for (const action of asArray(statement.Action)) {
        expect(action, `${where}: ${action}`).not.toContain('*');
      }
    }
  });

  it('denies only plain-HTTP access (the TLS-only bucket and queue policies)', () => {
    const denies = statements.filter((s) => s.statement.Effect === 'Deny');
    // One per bucket (PCAP, access logs, console, CloudFront logs) and the DLQ.
    const buckets = Object.values(resources).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(4);
    expect(denies.map((d) => resources[d.where]!.Type).sort()).toEqual([
      ...buckets.map(() => 'AWS::S3::BucketPolicy'),
      'AWS::SQS::QueuePolicy',
    ]);
    for (const { statement } of denies) {
      expect(statement.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    }
  });

  it('holds wildcard resources only on the allow-list, each with only its listed actions', () => {
    const used = new Set<number>();
    const offenders: string[] = [];
    for (const { where, statement } of statements) {
      if (statement.Effect !== 'Allow' || where.endsWith('(trust)')) continue;
      const actions = asArray(statement.Action);
      for (const resource of asArray(statement.Resource).map(flatten)) {
        if (!isWildcard(resources, resource)) continue;
        const index = WILDCARD_ALLOW_LIST.findIndex(
          (entry) =>
            entry.resource.test(resource) && actions.every((a) => entry.actions.includes(a)),
        );
        if (index < 0) offenders.push(`${where}: ${actions.join(',')} on ${resource}`);
        else used.add(index);
      }
    }
    expect(offenders).toEqual([]);
    const unused = WILDCARD_ALLOW_LIST.filter((_, i) => !used.has(i)).map((e) => e.why);
    expect(unused).toEqual([]);
  });

  it('attaches no managed policy to any role', () => {
    for (const r of Object.values(resources)) {
      if (r.Type === 'AWS::IAM::Role') expect(r.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('IAM: each function role holds exactly its grants', () => {
  let resources: Record<string, Resource>;
  beforeAll(() => {
    resources = synthFast({}, { pcapExportEntry: handlerEntry('ingest') }).template.toJSON()
      .Resources;
  });

  /** The role's grants as "action on resource" lines, sorted. */
  const grantsOf = (rolePrefix: string): string[] => {
    const roleId = Object.keys(resources).find(
      (id) => id.startsWith(rolePrefix) && resources[id]!.Type === 'AWS::IAM::Role',
    )!;
    return Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          asArray(r.Properties.Roles).some((ref: any) => ref.Ref === roleId),
      )
      .flatMap((p) => asArray<Statement>(p.Properties.PolicyDocument.Statement))
      .flatMap((s) =>
        asArray(s.Action).flatMap((a) =>
          asArray(s.Resource).map((r) => `${a} on ${flatten(r).replace(/[0-9A-F]{8}\b/g, '')}`),
        ),
      )
      .sort();
  };

  it('ingest: reads agents and writes what agents send; nothing on packets, no Query; segment objects and uploads answers only', () => {
    expect(grantsOf('IngestHandlerRole')).toEqual([
      'dynamodb:GetItem on <StorageFlowsTable.Arn>',
      'dynamodb:GetItem on <StorageTenantsTable.Arn>',
      'dynamodb:PutItem on <StorageFlowsTable.Arn>',
      'dynamodb:UpdateItem on <StorageFlowsTable.Arn>',
      'dynamodb:UpdateItem on <StorageTenantsTable.Arn>',
      'iot:Publish on arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/wirefleet/v1/agents/*/uploads',
      'logs:CreateLogStream on <IngestHandlerLogs.Arn>',
      'logs:PutLogEvents on <IngestHandlerLogs.Arn>',
      's3:DeleteObject on <StoragePcapBucket.Arn>/tenants/*/agents/*/segments/*',
      's3:GetObject on <StoragePcapBucket.Arn>/tenants/*/agents/*/segments/*',
      's3:PutObject on <StoragePcapBucket.Arn>/tenants/*/agents/*/segments/*',
      'sqs:SendMessage on <IngestDeadLetterQueue.Arn>',
    ]);
  });

  it('jobs: query packets and segments, read the manifest key, update the job record, copy and write under tenants/', () => {
    expect(grantsOf('PcapExportHandlerRole')).toEqual([
      'dynamodb:GetItem on <StorageTenantsTable.Arn>',
      'dynamodb:Query on <StorageFlowsTable.Arn>',
      'dynamodb:Query on <StoragePacketsTable.Arn>',
      'dynamodb:UpdateItem on <StorageFlowsTable.Arn>',
      'logs:CreateLogStream on <PcapExportHandlerLogs.Arn>',
      'logs:PutLogEvents on <PcapExportHandlerLogs.Arn>',
      's3:AbortMultipartUpload on <StoragePcapBucket.Arn>/tenants/*',
      's3:DeleteObject on <StoragePcapBucket.Arn>/tenants/*/windows/*',
      's3:GetObject on <StoragePcapBucket.Arn>/tenants/*',
      's3:PutObject on <StoragePcapBucket.Arn>/tenants/*',
    ]);
  });

  it('console deployment: reads its one build zip, lists and writes the console bucket, invalidates its distribution', () => {
    const grants = grantsOf('ConsoleDeployRole');
    // The build zip's key is its content hash, which changes with every console change.
    const zip = grants.filter((g) => g.startsWith('s3:GetObject on '));
    expect(zip).toHaveLength(1);
    expect(zip[0]).toMatch(
      /^s3:GetObject on arn:<AWS::Partition>:s3:::.*cdk-hnb659fds-assets-.*\/[0-9a-f]{64}\.zip$/,
    );
    expect(grants.filter((g) => !g.startsWith('s3:GetObject on '))).toEqual([
      'cloudfront:CreateInvalidation on arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<ConsoleDistribution>',
      'cloudfront:GetInvalidation on arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<ConsoleDistribution>',
      'logs:CreateLogStream on <ConsoleDeployLogs.Arn>',
      'logs:PutLogEvents on <ConsoleDeployLogs.Arn>',
      's3:ListBucket on <ConsoleBucket.Arn>',
      's3:PutObject on <ConsoleBucket.Arn>/assets/*',
      's3:PutObject on <ConsoleBucket.Arn>/index.html',
    ]);
  });

  it('console deployment: its function runs with that role and no other', () => {
    const functions = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(r.Properties.Role).includes('ConsoleDeployRole'),
    );
    expect(functions).toHaveLength(1);
    expect(functions[0]!.Properties.Runtime).toMatch(/^python3\./);
  });

  it('api: no DynamoDB action outside what functions/store sends', () => {
    const apiDynamo = new Set(
      grantsOf('ApiHandlerRole')
        .filter((g) => g.startsWith('dynamodb:'))
        .map((g) => g.split(' ')[0]!),
    );
    // Operations the store layer issues (excluding schema.ts, which creates tables locally).
    const storeDir = path.join(REPO_ROOT, 'functions', 'store');
    const used = new Set<string>();
    for (const file of readdirSync(storeDir)) {
      if (!file.endsWith('.ts') || file === 'schema.ts') continue;
      const source = readFileSync(path.join(storeDir, file), 'utf8');
      for (const [, op] of source.matchAll(/new (\w+)Command\(/g)) {
        used.add(
          {
            Get: 'GetItem',
            Put: 'PutItem',
            Update: 'UpdateItem',
            Delete: 'DeleteItem',
            BatchGet: 'BatchGetItem',
            BatchWrite: 'BatchWriteItem',
            TransactWrite: 'TransactWriteItems',
            TransactGet: 'TransactGetItems',
          }[op!] ?? op!,
        );
      }
    }
    const dynamoUsed = [...used].filter((op) => !/Object|Bucket|Table/.test(op));
    expect(dynamoUsed.length).toBeGreaterThan(3);
    for (const op of dynamoUsed) expect(apiDynamo, op).toContain(`dynamodb:${op}`);
  });

  it('api: every IoT and Lambda call in functions/ is granted', () => {
    const apiActions = new Set(grantsOf('ApiHandlerRole').map((g) => g.split(' ')[0]!));
    // IAM action for a command class, by the client it is imported from.
    const actionFor: Record<string, (op: string) => string> = {
      '@aws-sdk/client-iot': (op) => `iot:${op}`,
      '@aws-sdk/client-iot-data-plane': (op) => `iot:${op}`,
      '@aws-sdk/client-lambda': (op) =>
        op === 'Invoke' ? 'lambda:InvokeFunction' : `lambda:${op}`,
    };
    const wanted = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.ts')) {
          const source = readFileSync(file, 'utf8');
          // Clients are imported statically or loaded on first use (import('...')); a file uses
          // one client, so every command it sends (new XCommand(...)) is that client's.
          const clients = new Set(
            [...source.matchAll(/(?:from\s*|import\()\s*'(@aws-sdk\/client-[\w-]+)'/g)]
              .map((m) => m[1]!)
              .filter((from) => from in actionFor),
          );
          expect(clients.size, file).toBeLessThanOrEqual(1);
          const [from] = clients;
          if (!from) continue;
          for (const [, op] of source.matchAll(/\bnew ([A-Z]\w*)Command\(/g)) {
            wanted.add(actionFor[from]!(op!));
          }
        }
      }
    };
    walk(path.join(REPO_ROOT, 'functions'));
    // The registration, revocation, command and export calls are all found.
    for (const action of [
      'iot:CreateCertificateFromCsr',
      'iot:UpdateCertificate',
      'iot:Publish',
      'lambda:InvokeFunction',
    ]) {
      expect(wanted, action).toContain(action);
    }
    for (const action of wanted) expect(apiActions, action).toContain(action);
  });
});
