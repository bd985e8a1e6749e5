import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { WirefleetFunction } from './function.js';
import {
  acknowledgeWildcard,
  iotArn,
  nagBucketObjects,
  nagIotResource,
  objectStatement,
  tableStatement,
} from './grants.js';
import { AGENT_TOPIC_ROOT, COMMAND_CHANNEL, THING_PREFIX } from './iot.js';
import { handlerEntry, REPO_ROOT } from './paths.js';
import type { WirefleetSettings } from './settings.js';
import { type Storage, TENANT_OBJECT_PREFIX, WINDOW_OBJECT_PREFIX } from './storage.js';

/** API Gateway cuts an HTTP API integration at 30 s; the function stops first. */
export const API_TIMEOUT = Duration.seconds(29);

/** Swagger UI's files, read by functions/api/routes/docs.ts through require.resolve at run time. */
const SWAGGER_FILES = [
  'package.json',
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'LICENSE',
  'NOTICE',
];

/** Access log line: JSON, one object per request, keyed by API Gateway's request id. */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTime: '$context.requestTime',
  requestTimeEpoch: '$context.requestTimeEpoch',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integrationErrorMessage',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
} as const;

export interface ApiProps {
  storage: Storage;
  settings: WirefleetSettings;
  iotDataEndpoint: string;
  agentPolicyName: string;
  pcapExport?: IFunction;
}

/**
 * The Hono app on Lambda behind an HTTP API `$default` stage: every route,
 * throttled, with JSON access logs. Authentication is the app's own bearer
 * tokens (functions/api/middleware/auth.ts), so API Gateway forwards every route.
 */
export class Api extends Construct {
  readonly handler: WirefleetFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { storage, settings } = props;
    const { tables, pcapBucket } = storage;

    this.handler = new WirefleetFunction(this, 'Handler', {
      entry: handlerEntry('api'),
      description: 'wirefleet API: the Hono app behind API Gateway',
      // Memory buys CPU: routing encapsulates packets and small PCAP downloads are built in-request.
      memorySize: 1024,
      timeout: API_TIMEOUT,
      logRetention: settings.logRetentionDays,
      environment: {
        TENANTS_TABLE: tables.tenants.tableName,
        PACKETS_TABLE: tables.packets.tableName,
        FLOWS_TABLE: tables.flows.tableName,
        PCAP_BUCKET: pcapBucket.bucketName,
        PCAP_URL_TTL_SECONDS: String(settings.pcapUrlTtlSeconds),
        MQTT_PUBLIC_URL: `mqtts://${props.iotDataEndpoint}:8883`,
        IOT_DATA_ENDPOINT: props.iotDataEndpoint,
        AGENT_IDENTITY: 'aws-iot',
        IOT_AGENT_POLICY: props.agentPolicyName,
        IOT_THING_PREFIX: THING_PREFIX,
        ...(props.pcapExport ? { PCAP_EXPORT_FUNCTION: props.pcapExport.functionName } : {}),
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_inputDir: string, outputDir: string) => {
          const from = `${REPO_ROOT}/node_modules/swagger-ui-dist`;
          const to = `${outputDir}/node_modules/swagger-ui-dist`;
          return [
            `mkdir -p "${to}"`,
            ...SWAGGER_FILES.map((f) => `cp "${from}/${f}" "${to}/${f}"`),
          ];
        },
      },
    });
    this.grantStore(storage);
    this.grantIot();
    if (props.pcapExport) {
      this.handler.addToRolePolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['lambda:InvokeFunction'],
          resources: [props.pcapExport.functionArn],
        }),
      );
    }

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: 'wirefleet',
      description: 'wirefleet API',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Lambda', this.handler.function),
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every route is authenticated by the application itself: bearer tokens issued per tenant (wirefleet token create), stored as hashes and checked by the Hono auth middleware before any handler runs; only /api/v1/health, /openapi.json and /docs are public. An API Gateway authorizer would duplicate that check with a second token store.',
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: settings.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
  }

  /** Its three tables and the tenant objects in its bucket; nothing else in DynamoDB or S3. */
  private grantStore({ tables, pcapBucket }: Storage): void {
    const fn = this.handler;
    // tenants: tenants, tokens, mappings, counters, the agent registry (BatchGet for
    // listings, Delete on revoke, Query for a tenant's agents).
    fn.addToRolePolicy(
      tableStatement(tables.tenants, [
        'GetItem',
        'BatchGetItem',
        'Query',
        'PutItem',
        'UpdateItem',
        'DeleteItem',
      ]),
    );
    // packets: stored and read, never changed or deleted.
    fn.addToRolePolicy(tableStatement(tables.packets, ['GetItem', 'Query', 'PutItem']));
    // flows: queries of agent data; commands are written and updated here.
    fn.addToRolePolicy(tableStatement(tables.flows, ['GetItem', 'Query', 'PutItem', 'UpdateItem']));
    // PCAP downloads: multipart upload (aborted on error) and the presigned GET.
    fn.addToRolePolicy(
      objectStatement(pcapBucket, TENANT_OBJECT_PREFIX, [
        'PutObject',
        'AbortMultipartUpload',
        'GetObject',
      ]),
    );
    // Window downloads delete their scratch objects (functions/evidence/window-assembly.ts).
    fn.addToRolePolicy(objectStatement(pcapBucket, WINDOW_OBJECT_PREFIX, ['DeleteObject']));
    acknowledgeWildcard(
      fn.role,
      nagBucketObjects(pcapBucket, WINDOW_OBJECT_PREFIX),
      'Window scratch objects only (tenants/<tenant>/windows/<window id>.scratch/...): a window download joins segments in S3 through scratch objects and deletes them afterwards. Window ids are random per request.',
    );
    acknowledgeWildcard(
      fn.role,
      nagBucketObjects(pcapBucket, TENANT_OBJECT_PREFIX),
      'Objects under tenants/ only: the API writes PCAP files at tenants/<tenant>/pcaps/... (functions/pcap/export.ts) and presigns GETs for them, with <tenant> taken from the authenticated bearer token. Object keys are per request, so no fixed ARN can name them.',
    );
  }

  /** Agent registration (thing + certificate from a CSR) and commands, under the wirefleet prefix. */
  private grantIot(): void {
    const fn = this.handler;
    const things = iotArn(this, `thing/${THING_PREFIX}*`);
    const certificates = iotArn(this, 'cert/*');
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:Publish'],
        resources: [iotArn(this, `topic/${AGENT_TOPIC_ROOT}/*/${COMMAND_CHANNEL}`)],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:UpdateThing', 'iot:DeleteThing'],
        resources: [things],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:CreateCertificateFromCsr'],
        resources: ['*'],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:AttachPolicy', 'iot:UpdateCertificate', 'iot:DescribeCertificate'],
        resources: [certificates],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:AttachThingPrincipal', 'iot:DetachThingPrincipal'],
        resources: [certificates, things],
      }),
    );
    acknowledgeWildcard(
      fn.role,
      'Resource::*',
      'Only iot:CreateCertificateFromCsr has this resource: it supports no resource-level permissions, so AWS requires "*". The certificate it signs (from the agent\'s CSR; the private key stays on the agent) authorises nothing until the function attaches the wirefleet agent policy and thing.',
    );
    acknowledgeWildcard(
      fn.role,
      nagIotResource('cert/*'),
      'Certificate ids are chosen by AWS IoT when CreateCertificateFromCsr returns, so no ARN can name them in advance. The actions on cert/* are limited to attaching the agent policy and the thing, describing, and deactivating (revoke); no DeleteCertificate, no policy changes.',
    );
    acknowledgeWildcard(
      fn.role,
      nagIotResource(`thing/${THING_PREFIX}*`),
      `Agents register at run time, each as the thing ${THING_PREFIX}<agent id>; the prefix keeps the role to wirefleet's own things (create, describe, update, delete, attach/detach its certificate).`,
    );
    acknowledgeWildcard(
      fn.role,
      nagIotResource(`topic/${AGENT_TOPIC_ROOT}/*/${COMMAND_CHANNEL}`),
      "Commands go to the commands topic of whichever agent the caller names; the API checks that the agent belongs to the caller's tenant before publishing. Only the commands channel, no uplink topics, no retained messages.",
    );
  }
}
