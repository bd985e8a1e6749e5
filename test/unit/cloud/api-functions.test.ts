import { beforeAll, describe, expect, it } from 'vitest';
import { handlerEntry } from '../../../infra/cloud/paths.js';
import { OUTPUT_KEYS } from '../../../infra/cloud/stack.js';
import { type FastSynth, flatten, synthFast } from './synth.js';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };

const resources = (synth: FastSynth) =>
  synth.template.toJSON().Resources as Record<string, Resource>;

/** Our functions (not aws-cdk-lib's custom-resource provider), by construct path. */
const functionAt = (synth: FastSynth, constructPath: string): [string, Resource] => {
  const found = Object.entries(resources(synth)).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:cdk:path'] === constructPath,
  );
  expect(found, constructPath).toHaveLength(1);
  return found[0]!;
};

const API = 'Wirefleet/Api/Handler/Function/Resource';
const INGEST = 'Wirefleet/Ingest/Handler/Function/Resource';
const EXPORT = 'Wirefleet/PcapExport/Handler/Function/Resource';

describe('api: HTTP API $default stage', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  it('routes everything to the API function with payload format 2.0', () => {
    const [apiFnId] = functionAt(synth, API);
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(resources(synth)).filter(
      (r) => r.Type === 'AWS::ApiGatewayV2::Route',
    );
    expect(routes.map((r) => r.Properties.RouteKey)).toEqual(['$default']);
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [apiFnId, 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
  });

  it('throttles with the defaults, or with -c apiRateLimit/apiBurstLimit', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    synthFast({ apiRateLimit: '25', apiBurstLimit: '50' }).template.hasResourceProperties(
      'AWS::ApiGatewayV2::Stage',
      { DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 } },
    );
  });

  it('writes JSON access logs with the request id to a log group with retention', () => {
    const [stage] = Object.values(resources(synth)).filter(
      (r) => r.Type === 'AWS::ApiGatewayV2::Stage',
    );
    const settings = stage!.Properties.AccessLogSettings;
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
    expect(format.integrationError).toBe('$context.integrationErrorMessage');
    const logGroup = resources(synth)[settings.DestinationArn['Fn::GetAtt'][0]]!;
    expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(30);
  });
});

describe('Lambda functions', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast({}, { pcapExportEntry: false });
  });

  it('run nodejs22.x on arm64 with handler index.handler, each with its own log group and role', () => {
    const roles = new Set<string>();
    for (const path of [API, INGEST]) {
      const [, fn] = functionAt(synth, path);
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Handler).toBe('index.handler');
      const logGroup = resources(synth)[fn.Properties.LoggingConfig.LogGroup.Ref]!;
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties.RetentionInDays).toBe(30);
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      expect(resources(synth)[roleId]!.Properties.ManagedPolicyArns).toBeUndefined();
      roles.add(roleId);
    }
    expect(roles.size).toBe(2);
  });

  it('stop the API before API Gateway cuts the request at 30 s; ingest stays short', () => {
    const [, api] = functionAt(synth, API);
    const [, ingest] = functionAt(synth, INGEST);
    expect(api.Properties.Timeout).toBe(29);
    expect(api.Properties.MemorySize).toBe(1024);
    expect(ingest.Properties.Timeout).toBe(30);
    expect(ingest.Properties.MemorySize).toBe(512);
  });

  it('give the API the environment of the shared contract', () => {
    const [, api] = functionAt(synth, API);
    const env = api.Properties.Environment.Variables as Record<string, unknown>;
    const tableRef = (name: string) => {
      const [id] = Object.entries(resources(synth)).find(
        ([, r]) => r.Type === 'AWS::DynamoDB::Table' && r.Properties.TableName === name,
      )!;
      return { Ref: id };
    };
    const [endpointId] = Object.entries(resources(synth)).find(
      ([, r]) => r.Type === 'Custom::IotDataEndpoint',
    )!;
    const [policyId] = Object.entries(resources(synth)).find(
      ([, r]) => r.Type === 'AWS::IoT::Policy',
    )!;
    const endpoint = { 'Fn::GetAtt': [endpointId, 'endpointAddress'] };
    expect(env).toEqual({
      TENANTS_TABLE: tableRef('wirefleet-tenants'),
      PACKETS_TABLE: tableRef('wirefleet-packets'),
      FLOWS_TABLE: tableRef('wirefleet-flows'),
      PCAP_BUCKET: { Ref: expect.stringMatching(/^StoragePcapBucket/) },
      PCAP_URL_TTL_SECONDS: '300',
      MQTT_PUBLIC_URL: { 'Fn::Join': ['', ['mqtts://', endpoint, ':8883']] },
      IOT_DATA_ENDPOINT: endpoint,
      AGENT_IDENTITY: 'aws-iot',
      IOT_AGENT_POLICY: { Ref: policyId },
      IOT_THING_PREFIX: 'wirefleet-',
    });
    const [, ingest] = functionAt(synth, INGEST);
    const ingestEnv = ingest.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(ingestEnv).sort()).toEqual([
      'FLOWS_TABLE',
      'IOT_DATA_ENDPOINT',
      'PACKETS_TABLE',
      'PCAP_BUCKET',
      'PCAP_RETENTION_DAYS',
      'TENANTS_TABLE',
    ]);
    // Evidence uploads: answers through the same endpoint the API publishes commands to.
    expect(ingestEnv.IOT_DATA_ENDPOINT).toEqual(env.IOT_DATA_ENDPOINT);
    expect(ingestEnv.PCAP_BUCKET).toEqual(env.PCAP_BUCKET);
    expect(ingestEnv.PCAP_RETENTION_DAYS).toBe('30');
  });

  it('has no export function and no PCAP_EXPORT_FUNCTION without an export entry', () => {
    expect(
      Object.values(resources(synth)).filter((r) => r.Metadata?.['aws:cdk:path'] === EXPORT),
    ).toEqual([]);
    const [, api] = functionAt(synth, API);
    expect(api.Properties.Environment.Variables.PCAP_EXPORT_FUNCTION).toBeUndefined();
    const iamActions = Object.values(resources(synth))
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => s.Action));
    expect(iamActions.filter((a: string) => a.startsWith('lambda:'))).toEqual([]);
  });

  it('wires an export function when an entry exists: 15 min, named to the API, invocable only by it', () => {
    // Bundling is skipped here, so any existing entry stands in for functions/handlers/pcap-export.ts.
    const withExport = synthFast({}, { pcapExportEntry: handlerEntry('ingest') });
    const [exportId, fn] = functionAt(withExport, EXPORT);
    expect(fn.Properties.Timeout).toBe(900);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    const [, api] = functionAt(withExport, API);
    expect(api.Properties.Environment.Variables.PCAP_EXPORT_FUNCTION).toEqual({ Ref: exportId });
    const apiRole = api.Properties.Role['Fn::GetAtt'][0] as string;
    const statements = Object.values(
      withExport.template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: apiRole }] },
      }),
    ).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(statements.filter((s: any) => String(s.Action).includes('lambda:'))).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [exportId, 'Arn'] },
      },
    ]);
  });
});

describe('outputs', () => {
  it('are exactly the keys the CLI reads', () => {
    const synth = synthFast();
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([...OUTPUT_KEYS].sort());
    expect(flatten(outputs.ApiUrl!.Value)).toMatch(/^https:\/\/<ApiHttpApi\w+>\.execute-api\./);
    expect(outputs.AgentPolicyName!.Value).toEqual({
      Ref: expect.stringMatching(/^IotAgentPolicy/),
    });
    expect(outputs.IngestDlqUrl!.Value).toEqual({
      Ref: expect.stringMatching(/^IngestDeadLetterQueue/),
    });
  });

  it('the stack name comes from -c stackName', () => {
    expect(synthFast({ stackName: 'WirefleetStaging' }).stack.stackName).toBe('WirefleetStaging');
  });
});
