import { Duration } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { WirefleetFunction } from './function.js';
import {
  acknowledgeWildcard,
  nagBucketObjects,
  objectStatement,
  tableStatement,
} from './grants.js';
import { type Storage, TENANT_OBJECT_PREFIX } from './storage.js';

/**
 * The asynchronous PCAP export worker: the API invokes it with
 * InvocationType 'Event' for selections too large to build inside API
 * Gateway's 30 s. It reads packets, writes the file under the tenant's prefix
 * and records the outcome on the job.
 */
export class PcapExport extends Construct {
  readonly handler: WirefleetFunction;

  constructor(
    scope: Construct,
    id: string,
    props: {
      entry: string;
      storage: Storage;
      logRetention: RetentionDays;
    },
  ) {
    super(scope, id);
    const { tables, pcapBucket } = props.storage;
    this.handler = new WirefleetFunction(this, 'Handler', {
      entry: props.entry,
      description: 'wirefleet PCAP export: builds large PCAP files into S3',
      // A full vCPU for building the file; up to Lambda's 15 minutes for 100,000 packets and more.
      memorySize: 1769,
      timeout: Duration.minutes(15),
      logRetention: props.logRetention,
      environment: {
        TENANTS_TABLE: tables.tenants.tableName,
        PACKETS_TABLE: tables.packets.tableName,
        FLOWS_TABLE: tables.flows.tableName,
        PCAP_BUCKET: pcapBucket.bucketName,
      },
    });
    // functions/pcap/export-job.ts: select the packets (Query), move the job
    // record through running/progress/done/failed (conditional updates in the
    // flows table, where the API created it), stream the file to S3. The API,
    // not the worker, presigns the download.
    this.handler.addToRolePolicy(tableStatement(tables.packets, ['Query']));
    this.handler.addToRolePolicy(tableStatement(tables.flows, ['UpdateItem']));
    this.handler.addToRolePolicy(
      objectStatement(pcapBucket, TENANT_OBJECT_PREFIX, ['PutObject', 'AbortMultipartUpload']),
    );
    acknowledgeWildcard(
      this.handler.role,
      nagBucketObjects(pcapBucket, TENANT_OBJECT_PREFIX),
      'Objects under tenants/ only, write only: each export job streams one new file to tenants/<tenant>/pcaps/... for the tenant whose job record it claimed; the key is made per job, so no fixed ARN can name it.',
    );
  }
}
