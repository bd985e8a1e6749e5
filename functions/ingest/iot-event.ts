/**
 * What the IoT topic rule hands the Lambda:
 *   SELECT encode(*, 'base64') AS payload, topic() AS topic FROM 'wirefleet/v1/agents/+/+'
 * encode() keeps non-JSON payloads intact, so validation happens in one place (ingest).
 */
export interface IoTRuleEvent {
  topic: string;
  /** The MQTT payload, base64. */
  payload: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The topic and raw payload bytes, or a one-line reason the event is malformed. */
export function parseIoTRuleEvent(
  event: unknown,
): { ok: true; topic: string; payload: Buffer } | { ok: false; reason: string } {
  if (typeof event !== 'object' || event === null) {
    return { ok: false, reason: 'event is not an object' };
  }
  const { topic, payload } = event as Record<string, unknown>;
  if (typeof topic !== 'string') return { ok: false, reason: 'event has no string "topic"' };
  if (typeof payload !== 'string') return { ok: false, reason: 'event has no string "payload"' };
  const compact = payload.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    return { ok: false, reason: 'event "payload" is not base64' };
  }
  return { ok: true, topic, payload: Buffer.from(compact, 'base64') };
}
