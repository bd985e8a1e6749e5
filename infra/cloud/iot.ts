import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnPolicy } from 'aws-cdk-lib/aws-iot';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AwsCustomResource,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  TOPIC_ROOT as AGENT_TOPIC_ROOT,
  DOWNLINK_CHANNELS,
  type DownlinkChannel,
  UPLINK_CHANNELS,
} from '../../protocol/agent-messages.js';
import { iotArn } from './grants.js';

export const AGENT_POLICY_NAME = 'wirefleet-agent';
/** An agent's thing is `<prefix><agent id>`; the API's IoT grants are limited to this prefix. */
export const THING_PREFIX = 'wirefleet-';
/** Topics and channels come from the protocol the agents and the cloud share. */
export {
  DOWNLINK_CHANNELS,
  TOPIC_ROOT as AGENT_TOPIC_ROOT,
  UPLINK_CHANNELS,
} from '../../protocol/agent-messages.js';
export const COMMAND_CHANNEL = 'commands' satisfies DownlinkChannel;
/** Evidence upload answers (presigned PUTs, confirmations), published by ingest. */
export const UPLOADS_CHANNEL = 'uploads' satisfies DownlinkChannel;

// IoT policy variables, resolved by IoT Core per connection. Plain strings,
// not template interpolation, and never inside Fn::Sub.
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not interpolation
const THING_NAME = '${iot:Connection.Thing.ThingName}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not interpolation
const AGENT_ID = '${iot:Connection.Thing.Attributes[agent_id]}';

/**
 * The policy every agent certificate gets, and the account's ATS data
 * endpoint (agents connect to it; the API publishes commands through it).
 */
export class AgentIot extends Construct {
  readonly policy: CfnPolicy;
  /** `<prefix>-ats.iot.<region>.amazonaws.com`, resolved at deploy time. */
  readonly dataEndpoint: string;

  constructor(scope: Construct, id: string, props: { logRetention: RetentionDays }) {
    super(scope, id);
    const agentTopic = (channel: string) => `${AGENT_TOPIC_ROOT}/${AGENT_ID}/${channel}`;
    this.policy = new CfnPolicy(this, 'AgentPolicy', {
      policyName: AGENT_POLICY_NAME,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            // Client id = thing name, and only for a certificate attached to a registered thing.
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: iotArn(this, `client/${THING_NAME}`),
            Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
          },
          {
            // Its own uplink channels, each named; no wildcard channel, no retained messages.
            Effect: 'Allow',
            Action: 'iot:Publish',
            Resource: UPLINK_CHANNELS.map((c) => iotArn(this, `topic/${agentTopic(c)}`)),
          },
          {
            // Its own downlink channels: commands, and answers to its evidence uploads.
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: DOWNLINK_CHANNELS.map((c) => iotArn(this, `topicfilter/${agentTopic(c)}`)),
          },
          {
            Effect: 'Allow',
            Action: 'iot:Receive',
            Resource: DOWNLINK_CHANNELS.map((c) => iotArn(this, `topic/${agentTopic(c)}`)),
          },
        ],
      },
    });

    // The custom resource's provider function gets a role that can do this one call and write its logs.
    const logGroup = new LogGroup(this, 'EndpointLookupLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'EndpointLookupRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Looks up the account IoT data endpoint (iot:Data-ATS) at deploy time',
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:DescribeEndpoint'],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'iot:DescribeEndpoint supports no resource-level permissions (IAM service authorization reference for AWS IoT), so its only resource is "*"; it is the sole action in this role besides writing its own log group, and it only reads the account endpoint host name.',
    });

    const describeEndpoint: AwsSdkCall = {
      service: 'Iot',
      action: 'describeEndpoint',
      parameters: { endpointType: 'iot:Data-ATS' },
      // The same endpoint comes back every time; the first call creates it.
      physicalResourceId: PhysicalResourceId.of('iot-data-ats-endpoint'),
      outputPaths: ['endpointAddress'],
    };
    const lookup = new AwsCustomResource(this, 'DataEndpoint', {
      onUpdate: describeEndpoint,
      role,
      logGroup,
      installLatestAwsSdk: false,
      resourceType: 'Custom::IotDataEndpoint',
    });
    this.dataEndpoint = lookup.getResponseField('endpointAddress');
    // The provider is a stack-wide singleton whose runtime aws-cdk-lib chooses.
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
    );
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "The AwsCustomResource provider is aws-cdk-lib's own function, on the runtime that aws-cdk-lib release chose (nodejs24.x here). It runs only during deployments, for one DescribeEndpoint call, and moves with aws-cdk-lib upgrades.",
      });
    }
  }
}
