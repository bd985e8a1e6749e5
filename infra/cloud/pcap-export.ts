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
import { type Storage, TENANT_OBJECT_PREFIX, WINDOW_OBJECT_PREFIX } from './storage.js';

/**
 * The asynchronous job worker: the API invokes it with InvocationType 'Event' for PCAP
 * exports and evidence windows too large to build inside API Gateway's 30 s. It reads
 * packets (or copies segments), writes the object under the tenant's prefix and records
 * the outcome on the job.
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
      description: 'wirefleet jobs: builds large PCAP files and evidence windows into S3',
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
    // Window jobs (functions/evidence/window-job.ts) query the segment records (flows table)
    // and read the manifest signing key (tenants table), which the API creates before any job.
    this.handler.addToRolePolicy(tableStatement(tables.flows, ['UpdateItem', 'Query']));
    this.handler.addToRolePolicy(tableStatement(tables.tenants, ['GetItem']));
    // Exports stream a new file; windows copy segments (UploadPartCopy reads the source with
    // GetObject and writes with PutObject) and delete their scratch objects.
    this.handler.addToRolePolicy(
      objectStatement(pcapBucket, TENANT_OBJECT_PREFIX, [
        'PutObject',
        'AbortMultipartUpload',
        'GetObject',
      ]),
    );
    this.handler.addToRolePolicy(
      objectStatement(pcapBucket, WINDOW_OBJECT_PREFIX, ['DeleteObject']),
    );
    acknowledgeWildcard(
      this.handler.role,
      nagBucketObjects(pcapBucket, TENANT_OBJECT_PREFIX),
      "Objects under tenants/ only: each job writes one new object for the tenant whose job record it claimed (tenants/<tenant>/pcaps/... or .../windows/...), and a window job reads that tenant's segment objects to copy them; keys are made per job, so no fixed ARN can name them.",
    );
    acknowledgeWildcard(
      this.handler.role,
      nagBucketObjects(pcapBucket, WINDOW_OBJECT_PREFIX),
      'Window scratch objects only (tenants/<tenant>/windows/<window id>.scratch/...): a window job joins segments in S3 through scratch objects and deletes them afterwards. Window ids are random per job.',
    );
  }
}
