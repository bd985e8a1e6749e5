import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Api } from './api.js';
import { Console } from './console.js';
import { Ingest } from './ingest.js';
import { AgentIot } from './iot.js';
import type { OutputKey } from './output-keys.js';
import { optionalHandlerEntry } from './paths.js';
import { PcapExport } from './pcap-export.js';
import type { WirefleetSettings } from './settings.js';
import { Storage } from './storage.js';

export { OUTPUT_KEYS, type OutputKey } from './output-keys.js';

export interface WirefleetStackProps extends StackProps {
  /**
   * The PCAP export worker's entry; by default functions/handlers/pcap-export.ts
   * when that file exists; false for none. Without one the stack has no export function.
   */
  pcapExportEntry?: string | false;
}

/**
 * The cloud half of wirefleet in one env-agnostic stack (no lookups, so it
 * synthesizes offline): storage, the API, agent ingest and the agents' IoT policy.
 */
export class WirefleetStack extends Stack {
  readonly storage: Storage;
  readonly iot: AgentIot;
  readonly ingest: Ingest;
  readonly api: Api;
  /** Absent until functions/handlers/pcap-export.ts exists. */
  readonly pcapExport?: PcapExport;
  /** The web console on CloudFront, with /api/* routed to the API. */
  readonly console: Console;

  constructor(
    scope: Construct,
    id: string,
    settings: WirefleetSettings,
    props: WirefleetStackProps = {},
  ) {
    const { pcapExportEntry = optionalHandlerEntry('pcap-export'), ...stackProps } = props;
    super(scope, id, {
      description: 'wirefleet: API, agent ingest, storage and the web console (issues 8, 10)',
      ...stackProps,
    });
    const logRetention = settings.logRetentionDays;
    this.storage = new Storage(this, 'Storage', settings);
    this.iot = new AgentIot(this, 'Iot', { logRetention });
    this.ingest = new Ingest(this, 'Ingest', {
      storage: this.storage,
      logRetention,
      iotDataEndpoint: this.iot.dataEndpoint,
      pcapRetentionDays: settings.pcapRetentionDays,
    });

    if (pcapExportEntry) {
      this.pcapExport = new PcapExport(this, 'PcapExport', {
        entry: pcapExportEntry,
        storage: this.storage,
        logRetention,
      });
    }
    this.api = new Api(this, 'Api', {
      storage: this.storage,
      settings,
      iotDataEndpoint: this.iot.dataEndpoint,
      agentPolicyName: this.iot.policy.ref,
      ...(this.pcapExport ? { pcapExport: this.pcapExport.handler.function } : {}),
    });
    this.console = new Console(this, 'Console', {
      settings,
      httpApi: this.api.httpApi,
      accessLogBucket: this.storage.accessLogBucket,
    });

    const outputs: Record<OutputKey, { value: string; description: string }> = {
      ApiUrl: { value: this.api.stage.url, description: 'Base URL of the wirefleet API' },
      IotDataEndpoint: {
        value: this.iot.dataEndpoint,
        description: 'AWS IoT Core data endpoint (ATS) that agents connect to on port 8883',
      },
      PcapBucketName: {
        value: this.storage.pcapBucket.bucketName,
        description: 'S3 bucket holding PCAP files',
      },
      TenantsTableName: {
        value: this.storage.tables.tenants.tableName,
        description: 'DynamoDB table: tenants, tokens, mappings, agents',
      },
      PacketsTableName: {
        value: this.storage.tables.packets.tableName,
        description: 'DynamoDB table: routing decisions as packets',
      },
      FlowsTableName: {
        value: this.storage.tables.flows.tableName,
        description: 'DynamoDB table: agent flows, events, metrics and commands',
      },
      IngestDlqUrl: {
        value: this.ingest.deadLetterQueue.queueUrl,
        description: 'SQS dead-letter queue of agent messages that could not be stored',
      },
      AgentPolicyName: {
        value: this.iot.policy.ref,
        description: 'AWS IoT policy attached to every agent certificate',
      },
      ConsoleUrl: {
        value: this.console.url,
        description: 'The web console (sign in with an API token); /api/* on it is the API',
      },
    };
    for (const [key, output] of Object.entries(outputs)) new CfnOutput(this, key, output);
    if (settings.consoleDomainName) {
      new CfnOutput(this, 'ConsoleDnsTarget', {
        value: this.console.distribution.distributionDomainName,
        description: `Point ${settings.consoleDomainName} here (CNAME, or an alias record in Route 53)`,
      });
    }
  }
}
