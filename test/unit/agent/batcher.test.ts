import { describe, expect, it } from 'vitest';
import {
  BatchError,
  batchFlows,
  DEFAULT_BATCH_MAX_BYTES,
  packFlowBatches,
} from '../../../agent/batcher.js';
import { flowRecordId } from '../../../agent/record-id.js';
import type { FlowRecord } from '../../../native/index.js';
import { flowBatchSchema, MAX_MESSAGE_BYTES } from '../../../protocol/agent-messages.js';
import { prng } from '../../helpers/prng.js';

const AGENT = 'edge-01';

function makeFlows(count: number, seed = 1): FlowRecord[] {
  const rand = prng(seed);
  const flows: FlowRecord[] = [];
  for (let i = 0; i < count; i++) {
    const v6 = rand() < 0.3;
    const first = 1_700_000_000 + i + Math.floor(rand() * 1e6) / 1e6;
    flows.push({
      flow_id: (i + 1).toString(16).padStart(16, '0'),
      ip_version: v6 ? 6 : 4,
      src_ip: v6 ? `2001:db8:${i.toString(16)}::1:ffff:abcd` : `10.${i % 250}.${(i >> 8) % 250}.1`,
      dst_ip: v6 ? '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff' : '192.0.2.200',
      src_port: 1024 + (i % 60000),
      dst_port: 443,
      protocol: 6,
      vlan_id: i % 4095,
      packets: 10 + i,
      bytes: 1500 * (10 + i),
      packets_fwd: 5 + i,
      packets_rev: 5,
      bytes_fwd: 1000,
      bytes_rev: 500,
      first_seen: first,
      last_seen: first + 2.5,
      duration_sec: 2.5,
      tcp_flags: 'SYN|ACK|PSH|FIN',
      state: 'CLOSED',
      end_reason: 'fin_rst',
    });
  }
  return flows;
}

function parse(payload: Buffer) {
  return flowBatchSchema.parse(JSON.parse(payload.toString('utf8')));
}

describe('batchFlows', () => {
  it('produces schema-valid batches carrying every flow once, with stable record ids', () => {
    const flows = makeFlows(1234);
    const payloads = batchFlows(AGENT, flows, { maxRecords: 100, now: () => 1_700_000_123_456 });
    const batches = payloads.map(parse);
    expect(batches.map((b) => b.records.length)).toEqual([...Array(12).fill(100), 34]);
    for (const batch of batches) expect(batch.sent_at).toBe(1_700_000_123.456);
    expect(new Set(batches.map((b) => b.batch_id)).size).toBe(13);
    const records = batches.flatMap((b) => b.records);
    expect(records.map((r) => r.flow_id)).toEqual(flows.map((f) => f.flow_id));
    expect(records.map((r) => r.record_id)).toEqual(flows.map((f) => flowRecordId(AGENT, f)));
    expect(records[7]).toMatchObject({ ...flows[7], record_id: flowRecordId(AGENT, flows[7]!) });
  });

  it('gives the same record ids on another call, and new batch ids', () => {
    const flows = makeFlows(50, 7);
    const a = parse(batchFlows(AGENT, flows)[0]!);
    const b = parse(batchFlows(AGENT, flows)[0]!);
    expect(a.records.map((r) => r.record_id)).toEqual(b.records.map((r) => r.record_id));
    expect(a.batch_id).not.toBe(b.batch_id);
    const other = parse(batchFlows('edge-02', flows)[0]!);
    expect(other.records[0]!.record_id).not.toBe(a.records[0]!.record_id);
  });

  it('keeps every payload strictly under 128 KiB when records alone would overflow', () => {
    const flows = makeFlows(20_000, 3);
    const packed = packFlowBatches(AGENT, flows, { maxRecords: 2000 });
    let total = 0;
    for (const batch of packed) {
      expect(batch.payload.length).toBeLessThan(MAX_MESSAGE_BYTES);
      expect(batch.payload.length).toBeLessThanOrEqual(DEFAULT_BATCH_MAX_BYTES);
      const parsed = parse(batch.payload);
      expect(parsed.records.length).toBe(batch.records);
      expect(parsed.batch_id).toBe(batch.batchId);
      total += batch.records;
    }
    expect(total).toBe(20_000);
    // Size, not the record cap, cut these: 2000 records of ~550 bytes do not fit in 127 KiB.
    expect(Math.max(...packed.map((b) => b.records))).toBeLessThan(2000);
    // ... and the cut is tight: each batch but the last is close to the bound.
    for (const batch of packed.slice(0, -1)) {
      expect(batch.payload.length).toBeGreaterThan(DEFAULT_BATCH_MAX_BYTES - 1000);
    }
  });

  it('honours a small maxBytes exactly (payload length never above it)', () => {
    const flows = makeFlows(300, 9);
    for (const maxBytes of [1200, 1500, 4096, 10_000]) {
      const payloads = batchFlows(AGENT, flows, { maxBytes });
      expect(payloads.flatMap((p) => parse(p).records)).toHaveLength(300);
      for (const p of payloads) expect(p.length).toBeLessThanOrEqual(maxBytes);
    }
  });

  it('returns nothing for no flows, and refuses bad options or a record that cannot fit', () => {
    expect(batchFlows(AGENT, [])).toEqual([]);
    expect(() => batchFlows(AGENT, makeFlows(1), { maxRecords: 0 })).toThrow(BatchError);
    expect(() => batchFlows(AGENT, makeFlows(1), { maxRecords: 2001 })).toThrow(/maxRecords/);
    expect(() => batchFlows(AGENT, makeFlows(1), { maxBytes: MAX_MESSAGE_BYTES })).toThrow(
      /maxBytes/,
    );
    expect(() => batchFlows(AGENT, makeFlows(1), { maxBytes: 300 })).toThrow(/too large/);
  });
});
