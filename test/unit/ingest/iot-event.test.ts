import { describe, expect, it } from 'vitest';
import { parseIoTRuleEvent } from '../../../functions/ingest/iot-event.js';

describe('parseIoTRuleEvent', () => {
  it('decodes the base64 payload the topic rule encodes', () => {
    const body = '{"schema":"wirefleet.heartbeat/1"}';
    const out = parseIoTRuleEvent({
      topic: 'wirefleet/v1/agents/edge-1/heartbeat',
      payload: Buffer.from(body).toString('base64'),
    });
    expect(out.ok).toBe(true);
    if (out.ok) {
      expect(out.topic).toBe('wirefleet/v1/agents/edge-1/heartbeat');
      expect(out.payload.toString('utf8')).toBe(body);
    }
  });

  it('keeps binary payloads byte for byte', () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const out = parseIoTRuleEvent({ topic: 't', payload: bytes.toString('base64') });
    expect(out.ok && out.payload.equals(bytes)).toBe(true);
  });

  it.each([
    [null, 'event is not an object'],
    ['text', 'event is not an object'],
    [{ payload: 'e30=' }, 'event has no string "topic"'],
    [{ topic: 't' }, 'event has no string "payload"'],
    [{ topic: 't', payload: { schema: 'x' } }, 'event has no string "payload"'],
    [{ topic: 't', payload: '{"not":"base64"}' }, 'event "payload" is not base64'],
    [{ topic: 't', payload: 'abc' }, 'event "payload" is not base64'],
  ])('rejects %j', (event, reason) => {
    expect(parseIoTRuleEvent(event)).toEqual({ ok: false, reason });
  });
});
