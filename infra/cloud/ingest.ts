import { Arn, Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnTopicRule } from 'aws-cdk-lib/aws-iot';
import type { IDestination } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
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
import { AGENT_TOPIC_ROOT, DOWNLINK_CHANNELS, UPLOADS_CHANNEL } from './iot.js';
import { handlerEntry } from './paths.js';
import type { Storage } from './storage.js';

export const INGEST_RULE_NAME = 'wirefleet_ingest';
export const INGEST_SQL_VERSION = '2016-03-23';
/**
 * encode(*) needs SQL 2016-03-23; binary payloads reach Lambda as base64 inside JSON. The
 * cloud's own downlink messages (commands, uploads) match the same filter; the WHERE keeps
 * them from invoking ingest only to be refused.
 */
export const INGEST_SQL = `SELECT encode(*, 'base64') AS payload, topic() AS topic FROM '${AGENT_TOPIC_ROOT}/+/+' WHERE ${DOWNLINK_CHANNELS.map((c) => `topic(5) <> '${c}'`).join(' AND ')}`;
export const INGEST_RETRY_ATTEMPTS = 2;
export const INGEST_MAX_EVENT_AGE = Duration.hours(1);
/** Evidence segment objects: tenants/<tenant>/agents/<agent>/segments/<id> (functions/store/segments.ts). */
export const SEGMENT_OBJECT_PREFIX = 'tenants/*/agents/*/segments/';

/**
 * Agent uplink → IoT topic rule → ingest Lambda (asynchronous). Whatever
 * cannot be delivered — the rule failing to invoke the function, or the
 * function failing after Lambda's retries — lands in one encrypted DLQ
 * that the operator replays once the store is back.
 */
export class Ingest extends Construct {
  readonly handler: WirefleetFunction;
  readonly deadLetterQueue: Queue;
  readonly rule: CfnTopicRule;

  constructor(
    scope: Construct,
    id: string,
    props: {
      storage: Storage;
      logRetention: RetentionDays;
      /** The ATS data endpoint host: evidence upload answers are published through it. */
      iotDataEndpoint: string;
      /** Days the bucket keeps objects; segment records expire with them. */
      pcapRetentionDays: number;
    },
  ) {
    super(scope, id);
    const { tables, pcapBucket } = props.storage;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the ingest path (the IoT rule error action and the function on-failure destination). Nothing consumes it automatically; the operator redrives it, so a further DLQ would only hide messages.',
    });

    this.handler = new WirefleetFunction(this, 'Handler', {
      entry: handlerEntry('ingest'),
      description: 'wirefleet ingest: agent MQTT messages from the IoT topic rule into DynamoDB',
      memorySize: 512,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: {
        TENANTS_TABLE: tables.tenants.tableName,
        PACKETS_TABLE: tables.packets.tableName,
        FLOWS_TABLE: tables.flows.tableName,
        PCAP_BUCKET: pcapBucket.bucketName,
        PCAP_RETENTION_DAYS: String(props.pcapRetentionDays),
        IOT_DATA_ENDPOINT: props.iotDataEndpoint,
      },
    });
    // What functions/ingest does: read the agent and record heartbeats/metrics on
    // its item (tenants table); write flows, events, metrics history and command
    // replies (flows table). No Query, no Delete, nothing on packets.
    this.handler.addToRolePolicy(tableStatement(tables.tenants, ['GetItem', 'UpdateItem']));
    this.handler.addToRolePolicy(
      tableStatement(tables.flows, ['GetItem', 'PutItem', 'UpdateItem']),
    );
    this.handler.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
    this.grantEvidence(pcapBucket);

    // Async invoke settings. The destination is bound by hand: SqsDestination
    // would also grant GetQueueAttributes and GetQueueUrl, which Lambda does not need.
    const onFailure: IDestination = {
      bind: () => ({ destination: this.deadLetterQueue.queueArn }),
    };
    this.handler.function.configureAsyncInvoke({
      retryAttempts: INGEST_RETRY_ATTEMPTS,
      maxEventAge: INGEST_MAX_EVENT_AGE,
      onFailure,
    });

    const ruleArn = Arn.format(
      { service: 'iot', resource: 'rule', resourceName: INGEST_RULE_NAME },
      Stack.of(this),
    );
    const errorActionRole = new Role(this, 'RuleErrorActionRole', {
      assumedBy: new ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnEquals: { 'aws:SourceArn': ruleArn },
        },
      }),
      description: 'Lets the wirefleet ingest topic rule put undeliverable messages in its DLQ',
    });
    errorActionRole.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );

    this.rule = new CfnTopicRule(this, 'TopicRule', {
      ruleName: INGEST_RULE_NAME,
      topicRulePayload: {
        description: 'wirefleet agent uplink to the ingest function',
        sql: INGEST_SQL,
        awsIotSqlVersion: INGEST_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: this.handler.function.functionArn } }],
        errorAction: {
          sqs: {
            queueUrl: this.deadLetterQueue.queueUrl,
            roleArn: errorActionRole.roleArn,
            useBase64: false,
          },
        },
      },
    });
    // The rule must not exist before its role may write to the queue.
    this.rule.node.addDependency(errorActionRole);

    this.handler.function.addPermission('InvokeFromTopicRule', {
      principal: new ServicePrincipal('iot.amazonaws.com'),
      sourceArn: this.rule.attrArn,
      sourceAccount: Aws.ACCOUNT_ID,
    });
  }

  /**
   * Evidence uploads (functions/evidence/segment-uploads.ts): presign PUTs for segment objects
   * (a presigned URL acts with the signer's s3:PutObject), read one back to check its SHA-256,
   * delete one that does not match; answer the agent on its uploads topic.
   */
  private grantEvidence(pcapBucket: Storage['pcapBucket']): void {
    const fn = this.handler;
    fn.addToRolePolicy(
      objectStatement(pcapBucket, SEGMENT_OBJECT_PREFIX, [
        'PutObject',
        'GetObject',
        'DeleteObject',
      ]),
    );
    const uploadsTopic = `topic/${AGENT_TOPIC_ROOT}/*/${UPLOADS_CHANNEL}`;
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iot:Publish'],
        resources: [iotArn(this, uploadsTopic)],
      }),
    );
    acknowledgeWildcard(
      fn.role,
      nagBucketObjects(pcapBucket, SEGMENT_OBJECT_PREFIX),
      'Segment objects only (tenants/<tenant>/agents/<agent>/segments/<id>): the function presigns the PUT for one segment key at a time, with tenant and agent from the agent registry and the MQTT topic, then checks or deletes that object. Keys are per segment, so no fixed ARN can name them.',
    );
    acknowledgeWildcard(
      fn.role,
      nagIotResource(uploadsTopic),
      'Answers go to the uploads topic of the agent whose segments message is being handled (the topic names it; IoT Core lets only that agent publish there). Only the uploads channel, no commands, no uplink topics.',
    );
  }
}
