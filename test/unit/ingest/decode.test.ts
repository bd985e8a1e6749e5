import { describe, expect, it } from 'vitest';
import {
  decodeUplink,
  findUnstorable,
  MAX_STORED_DEPTH,
} from '../../../functions/ingest/decode.js';
import { agentTopic, MAX_MESSAGE_BYTES } from '../../../protocol/agent-messages.js';
import { flowRecord, heartbeat, metrics } from './fixtures.js';

const batch = (records = [flowRecord(1), flowRecord(2)]) => ({
  schema: 'wirefleet.flows/1',
  batch_id: 'b-1',
  sent_at: 1_767_225_700,
  records,
});

describe('decodeUplink', () => {
  it('takes the agent and channel from the topic', () => {
    const out = decodeUplink(agentTopic('edge-1', 'flows'), JSON.stringify(batch()));
    expect(out).toMatchObject({ ok: true, agentId: 'edge-1', channel: 'flows' });
    if (out.ok && out.channel === 'flows') expect(out.message.records).toHaveLength(2);
  });

  it('accepts bytes as well as strings, for every uplink channel', () => {
    const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    expect(decodeUplink(agentTopic('a', 'heartbeat'), bytes(heartbeat(1))).ok).toBe(true);
    expect(decodeUplink(agentTopic('a', 'metrics'), bytes(metrics(1))).ok).toBe(true);
    const event = {
      schema: 'wirefleet.event/1',
      event_id: 'e1',
      sent_at: 1,
      type: 'capture_failed',
      severity: 'critical',
      message: 'no such device',
    };
    expect(decodeUplink(agentTopic('a', 'events'), bytes(event)).ok).toBe(true);
    const reply = {
      schema: 'wirefleet.reply/1',
      command_id: 'c1',
      replied_at: 2,
      status: 'ok',
    };
    expect(decodeUplink(agentTopic('a', 'replies'), bytes(reply)).ok).toBe(true);
  });

  it('drops a forged tenant or agent id from the payload', () => {
    const forged = {
      ...batch([{ ...flowRecord(1), tenant: 'other', agent_id: 'x' } as never]),
      tenant: 'other',
      agent_id: 'x',
    };
    const out = decodeUplink(agentTopic('edge-1', 'flows'), JSON.stringify(forged));
    expect(out.ok).toBe(true);
    if (!out.ok || out.channel !== 'flows') return;
    expect(out.agentId).toBe('edge-1');
    expect(out.message).not.toHaveProperty('tenant');
    expect(out.message).not.toHaveProperty('agent_id');
    expect(out.message.records[0]).not.toHaveProperty('tenant');
    expect(out.message.records[0]).not.toHaveProperty('agent_id');
  });

  it.each([
    ['wirefleet/v1/agents/edge-1', /not an agent uplink topic/],
    ['wirefleet/v1/agents/Edge_1/flows', /not an agent uplink topic/],
    ['wirefleet/v1/agents/edge-1/flows/extra', /not an agent uplink topic/],
    ['wirefleet/v2/agents/edge-1/flows', /not an agent uplink topic/],
    ['wirefleet/v1/agents/edge-1/secrets', /not an agent uplink topic/],
    ['wirefleet/v1/agents/edge-1/commands', /downlink channel/],
  ])('rejects the topic %s', (topic, reason) => {
    const out = decodeUplink(topic, JSON.stringify(batch()));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(reason);
  });

  it('rejects bad JSON, bad UTF-8 and empty payloads with one-line reasons', () => {
    const topic = agentTopic('edge-1', 'flows');
    const cases: [Uint8Array | string, RegExp][] = [
      ['{"schema":', /^payload is not JSON: /],
      ['nope\nstill\r\nnope', /^payload is not JSON: .*nope/],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /^payload is not valid UTF-8$/],
      ['', /^payload is empty$/],
    ];
    for (const [payload, reason] of cases) {
      const out = decodeUplink(topic, payload);
      expect(out).toMatchObject({ ok: false, agentId: 'edge-1', channel: 'flows' });
      if (!out.ok) {
        expect(out.reason).toMatch(reason);
        expect(out.reason).not.toContain('\n');
      }
    }
  });

  it('rejects payloads over the IoT Core limit before parsing them', () => {
    const big = JSON.stringify({ ...batch(), pad: 'x'.repeat(MAX_MESSAGE_BYTES) });
    const out = decodeUplink(agentTopic('edge-1', 'flows'), big);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(/over the 131072-byte limit/);
    // Multi-byte characters count as bytes, not characters.
    const wide = JSON.stringify({ pad: 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1) });
    const out2 = decodeUplink(agentTopic('edge-1', 'flows'), wide);
    if (!out2.ok) expect(out2.reason).toMatch(/over the/);
    expect(out2.ok).toBe(false);
  });

  it('names the failing field when the schema does not match', () => {
    const bad = batch([flowRecord(1, { dst_port: 70_000 })]);
    const out = decodeUplink(agentTopic('edge-1', 'flows'), JSON.stringify(bad));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(/^invalid flows message: records\.0\.dst_port: /);
    const wrong = decodeUplink(agentTopic('edge-1', 'heartbeat'), JSON.stringify(batch()));
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.reason).toMatch(/^invalid heartbeat message: schema: /);
  });
});

describe('findUnstorable', () => {
  it('passes ordinary messages', () => {
    expect(findUnstorable(heartbeat(1_767_225_600.123456))).toBeUndefined();
    expect(findUnstorable({ a: [0, -1.5, 2 ** 53 - 1, 1e-130, 'x', null, true] })).toBeUndefined();
  });

  it('names numbers beyond what DynamoDB holds', () => {
    expect(findUnstorable({ records: [{ bytes: 1 }, { bytes: 2 ** 60 }] })).toBe(
      'records.1.bytes: 1152921504606847000 is outside the range the store can hold',
    );
    expect(findUnstorable({ details: { rate: -1e-200 } })).toMatch(/^details\.rate: -1e-200 /);
  });

  it('names nesting deeper than the store allows', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_STORED_DEPTH + 1; i++) deep = [deep];
    expect(findUnstorable({ details: deep })).toMatch(/nested deeper than 30 levels$/);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_STORED_DEPTH - 2; i++) ok = [ok];
    expect(findUnstorable({ details: ok })).toBeUndefined();
  });

  it('rejects such a message in decodeUplink with the field named', () => {
    const out = decodeUplink(agentTopic('a', 'metrics'), JSON.stringify(metrics(1e300)));
    expect(out).toMatchObject({ ok: false, agentId: 'a', channel: 'metrics' });
    if (!out.ok) expect(out.reason).toMatch(/^invalid metrics message: sent_at: 1e\+300 /);
  });
});
