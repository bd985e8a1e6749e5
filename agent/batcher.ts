import { randomUUID } from 'node:crypto';
import type { FlowRecord } from '../native/index.js';
import {
  type FlowBatch,
  type FlowRecordMessage,
  MAX_MESSAGE_BYTES,
} from '../protocol/agent-messages.js';
import { flowRecordId } from './record-id.js';

/**
 * Cuts ended flows into `wirefleet.flows/1` JSON payloads, each strictly under
 * the broker's 128 KiB limit. Sizes are measured on the serialized bytes, not
 * estimated, so multi-byte strings or long addresses cannot push a batch over.
 */

/** Head-room below MAX_MESSAGE_BYTES for the MQTT fixed header and topic. */
export const BATCH_MARGIN_BYTES = 1024;
export const DEFAULT_BATCH_MAX_BYTES = MAX_MESSAGE_BYTES - BATCH_MARGIN_BYTES;
export const DEFAULT_BATCH_MAX_RECORDS = 500;
/** flowBatchSchema's upper bound on records. */
const SCHEMA_MAX_RECORDS = 2000;

export interface BatchOptions {
  /** Upper bound on one payload's size in bytes (exclusive of nothing: payload.length <= maxBytes). */
  maxBytes?: number;
  maxRecords?: number;
  /** Epoch milliseconds, for sent_at. */
  now?: () => number;
}

export interface PackedBatch {
  batchId: string;
  payload: Buffer;
  records: number;
}

/** Bad options, or a single record that cannot fit in any batch. */
export class BatchError extends Error {
  override readonly name = 'BatchError';
}

export function toFlowRecordMessage(agentId: string, flow: FlowRecord): FlowRecordMessage {
  // Named fields only: whatever else the engine attaches stays on the box.
  return {
    record_id: flowRecordId(agentId, flow),
    flow_id: flow.flow_id,
    ip_version: flow.ip_version,
    src_ip: flow.src_ip,
    dst_ip: flow.dst_ip,
    src_port: flow.src_port,
    dst_port: flow.dst_port,
    protocol: flow.protocol,
    vlan_id: flow.vlan_id,
    packets: flow.packets,
    bytes: flow.bytes,
    packets_fwd: flow.packets_fwd,
    packets_rev: flow.packets_rev,
    bytes_fwd: flow.bytes_fwd,
    bytes_rev: flow.bytes_rev,
    first_seen: flow.first_seen,
    last_seen: flow.last_seen,
    duration_sec: flow.duration_sec,
    tcp_flags: flow.tcp_flags,
    state: flow.state,
    end_reason: flow.end_reason,
  };
}

/** Like batchFlows, with each payload's batch id and record count (for the spool). */
export function packFlowBatches(
  agentId: string,
  flows: readonly FlowRecord[],
  options: BatchOptions = {},
): PackedBatch[] {
  const maxBytes = options.maxBytes ?? DEFAULT_BATCH_MAX_BYTES;
  const maxRecords = options.maxRecords ?? DEFAULT_BATCH_MAX_RECORDS;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 256 || maxBytes >= MAX_MESSAGE_BYTES) {
    throw new BatchError(
      `batch maxBytes must be an integer from 256 to ${MAX_MESSAGE_BYTES - 1}, got ${maxBytes}`,
    );
  }
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1 || maxRecords > SCHEMA_MAX_RECORDS) {
    throw new BatchError(
      `batch maxRecords must be an integer from 1 to ${SCHEMA_MAX_RECORDS}, got ${maxRecords}`,
    );
  }
  const now = options.now ?? Date.now;
  const batches: PackedBatch[] = [];
  let parts: string[] = [];
  let partBytes = 0;
  let head = '';
  let headBytes = 0;

  // JSON.stringify of the whole batch is exactly head + parts.join(',') + ']}', so the
  // running size is exact.
  const startBatch = () => {
    const batchId = randomUUID();
    const envelope: Omit<FlowBatch, 'records'> = {
      schema: 'wirefleet.flows/1',
      batch_id: batchId,
      sent_at: now() / 1000,
    };
    head = `${JSON.stringify(envelope).slice(0, -1)},"records":[`;
    headBytes = Buffer.byteLength(head);
    parts = [];
    partBytes = 0;
    return batchId;
  };
  const sizeWith = (extra: number) => headBytes + partBytes + parts.length + extra + 2;
  let batchId = startBatch();
  const close = () => {
    const payload = Buffer.from(`${head}${parts.join(',')}]}`);
    batches.push({ batchId, payload, records: parts.length });
  };

  for (const flow of flows) {
    const json = JSON.stringify(toFlowRecordMessage(agentId, flow));
    const bytes = Buffer.byteLength(json);
    if (parts.length > 0 && (parts.length >= maxRecords || sizeWith(bytes) > maxBytes)) {
      close();
      batchId = startBatch();
    }
    if (sizeWith(bytes) > maxBytes) {
      throw new BatchError(
        `flow ${flow.flow_id} serializes to ${bytes} bytes, too large for a ${maxBytes}-byte batch`,
      );
    }
    parts.push(json);
    partBytes += bytes;
  }
  if (parts.length > 0) close();
  return batches;
}

/** JSON payloads matching flowBatchSchema, each at most maxBytes; none for no flows. */
export function batchFlows(
  agentId: string,
  flows: readonly FlowRecord[],
  options: BatchOptions = {},
): Buffer[] {
  return packFlowBatches(agentId, flows, options).map((batch) => batch.payload);
}
