import { beforeAll, describe, expect, it } from 'vitest';
import { type FastSynth, iotArnJoin, synthFast } from './synth.js';

type Resource = { Properties: Record<string, any>; DependsOn?: string[] };

const onlyOne = (synth: FastSynth, type: string): [string, Resource] => {
  const found = Object.entries(synth.template.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Resource];
};

const ingestFunctionId = (synth: FastSynth) => {
  const [id] = Object.keys(
    synth.template.findResources('AWS::Lambda::Function', {
      Metadata: { 'aws:cdk:path': 'Wirefleet/Ingest/Handler/Function/Resource' },
    }),
  );
  if (!id) throw new Error('no ingest function');
  return id;
};

describe('ingest: IoT topic rule, DLQ and async invoke settings', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  it('selects every agent topic as base64 with SQL 2016-03-23 and invokes the ingest function', () => {
    const [, rule] = onlyOne(synth, 'AWS::IoT::TopicRule');
    expect(rule.Properties.RuleName).toBe('wirefleet_ingest');
    const payload = rule.Properties.TopicRulePayload;
    expect(payload.Sql).toBe(
      "SELECT encode(*, 'base64') AS payload, topic() AS topic FROM 'wirefleet/v1/agents/+/+' WHERE topic(5) <> 'commands' AND topic(5) <> 'uploads'",
    );
    expect(payload.AwsIotSqlVersion).toBe('2016-03-23');
    expect(payload.RuleDisabled).toBe(false);
    expect(payload.Actions).toEqual([
      { Lambda: { FunctionArn: { 'Fn::GetAtt': [ingestFunctionId(synth), 'Arn'] } } },
    ]);
  });

  it('sends rule errors to the encrypted, TLS-only DLQ through a role that may only SendMessage there', () => {
    const [queueId, queue] = onlyOne(synth, 'AWS::SQS::Queue');
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
          },
        ],
      },
    });

    const [ruleId, rule] = onlyOne(synth, 'AWS::IoT::TopicRule');
    const errorAction = rule.Properties.TopicRulePayload.ErrorAction;
    expect(Object.keys(errorAction)).toEqual(['Sqs']);
    expect(errorAction.Sqs.QueueUrl).toEqual({ Ref: queueId });
    expect(errorAction.Sqs.UseBase64).toBe(false);
    const roleId = errorAction.Sqs.RoleArn['Fn::GetAtt'][0] as string;
    const role = synth.template.toJSON().Resources[roleId] as Resource;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'iot.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnEquals: { 'aws:SourceArn': iotArnJoin('rule/wirefleet_ingest') },
        },
      },
    ]);
    const policies = synth.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: roleId }] },
    });
    expect(Object.values(policies).map((p: any) => p.Properties.PolicyDocument.Statement)).toEqual([
      [
        {
          Action: 'sqs:SendMessage',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
        },
      ],
    ]);
    // The rule is created after the role can write to the queue.
    expect(rule.DependsOn).toEqual(expect.arrayContaining(Object.keys(policies)));
    expect(ruleId).toMatch(/^Ingest/);
  });

  it('retries failed async invocations twice, then sends them to the same DLQ', () => {
    const [queueId] = onlyOne(synth, 'AWS::SQS::Queue');
    const [, config] = onlyOne(synth, 'AWS::Lambda::EventInvokeConfig');
    expect(config.Properties).toEqual({
      FunctionName: { Ref: ingestFunctionId(synth) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('lets only this rule in this account invoke the ingest function', () => {
    const [ruleId] = onlyOne(synth, 'AWS::IoT::TopicRule');
    const permissions = Object.values(
      synth.template.findResources('AWS::Lambda::Permission', {
        Properties: { FunctionName: { 'Fn::GetAtt': [ingestFunctionId(synth), 'Arn'] } },
      }),
    ) as Resource[];
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [ingestFunctionId(synth), 'Arn'] },
        Principal: 'iot.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    ]);
  });
});

describe('iot: the agent policy and the data endpoint', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast();
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not interpolation
  const AGENT = '${iot:Connection.Thing.Attributes[agent_id]}';

  it('scopes each agent to its thing name and agent_id attribute, statement by statement', () => {
    const [, policy] = onlyOne(synth, 'AWS::IoT::Policy');
    expect(policy.Properties.PolicyName).toBe('wirefleet-agent');
    expect(policy.Properties.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'iot:Connect',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable
          Resource: iotArnJoin('client/${iot:Connection.Thing.ThingName}'),
          Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
        },
        {
          Effect: 'Allow',
          Action: 'iot:Publish',
          Resource: ['flows', 'heartbeat', 'metrics', 'events', 'replies', 'segments', 'paths'].map(
            (channel) => iotArnJoin(`topic/wirefleet/v1/agents/${AGENT}/${channel}`),
          ),
        },
        {
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: ['commands', 'uploads'].map((channel) =>
            iotArnJoin(`topicfilter/wirefleet/v1/agents/${AGENT}/${channel}`),
          ),
        },
        {
          Effect: 'Allow',
          Action: 'iot:Receive',
          Resource: ['commands', 'uploads'].map((channel) =>
            iotArnJoin(`topic/wirefleet/v1/agents/${AGENT}/${channel}`),
          ),
        },
      ],
    });
    // Policy variables reach CloudFormation as literals, never through Fn::Sub.
    expect(JSON.stringify(policy)).not.toContain('Fn::Sub');
    expect(JSON.stringify(policy)).not.toContain('RetainPublish');
  });

  it('looks up the ATS data endpoint at deploy time with DescribeEndpoint', () => {
    const [, lookup] = onlyOne(synth, 'Custom::IotDataEndpoint');
    const call = JSON.parse(flattenCreate(lookup.Properties.Create));
    expect(call).toMatchObject({
      service: 'Iot',
      action: 'describeEndpoint',
      parameters: { endpointType: 'iot:Data-ATS' },
      outputPaths: ['endpointAddress'],
    });
    expect(lookup.Properties.InstallLatestAwsSdk).toBe(false);
    // Create and Update make the same call.
    expect(lookup.Properties.Update).toEqual(lookup.Properties.Create);
    // Its provider function logs to a log group of its own, with retention.
    const providerId = lookup.Properties.ServiceToken['Fn::GetAtt'][0] as string;
    const provider = synth.template.toJSON().Resources[providerId] as Resource;
    const logGroupId = provider.Properties.LoggingConfig.LogGroup.Ref as string;
    synth.template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Delete',
    });
    expect(synth.template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(30);
  });
});

/** The custom resource's call is a JSON string, possibly joined with tokens. */
function flattenCreate(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`unexpected Create value ${JSON.stringify(value)}`);
  return join[1].map((part) => (typeof part === 'string' ? part : '"token"')).join(join[0]);
}
