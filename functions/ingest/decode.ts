import type { z } from 'zod';
import {
  type AgentEvent,
  type AgentMetrics,
  type CommandReply,
  type FlowBatch,
  type Heartbeat,
  isDownlinkChannel,
  MAX_MESSAGE_BYTES,
  parseAgentTopic,
  UPLINK_SCHEMAS,
} from '../../protocol/agent-messages.js';
import type { SegmentUplink } from '../../protocol/evidence/upload-messages.js';
import type { TangoPathsMessage } from '../../protocol/tango-paths.js';

/** A validated uplink message; the agent id is the topic's, never the payload's. */
export type UplinkMessage =
  | { agentId: string; channel: 'flows'; message: FlowBatch }
  | { agentId: string; channel: 'heartbeat'; message: Heartbeat }
  | { agentId: string; channel: 'metrics'; message: AgentMetrics }
  | { agentId: string; channel: 'events'; message: AgentEvent }
  | { agentId: string; channel: 'replies'; message: CommandReply }
  | { agentId: string; channel: 'segments'; message: SegmentUplink }
  | { agentId: string; channel: 'paths'; message: TangoPathsMessage };

export type DecodeResult =
  | ({ ok: true } & UplinkMessage)
  | { ok: false; reason: string; agentId?: string; channel?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** "records.3.dst_port: Too big: expected number to be <=65535" (the first few issues). */
export function describeIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const where = issue.path.map(String).join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length > max ? ` (+${error.issues.length - max} more)` : '';
  return parts.join('; ') + more;
}

/** Stored messages sit a level or two below the item root; DynamoDB allows 32 levels. */
export const MAX_STORED_DEPTH = 30;
/** DynamoDB numbers below this magnitude fail to store (underflow). */
const MIN_STORABLE_MAGNITUDE = 1e-130;

/**
 * What the schemas allow but DynamoDB cannot hold: numbers beyond what the
 * document client marshals (±2^53) or below 1e-130, nesting deeper than
 * MAX_STORED_DEPTH. Rejecting these here keeps them from looking like a store
 * outage and being retried forever. Returns "path: problem" or undefined.
 */
export function findUnstorable(value: unknown, path: string[] = []): string | undefined {
  const where = () => path.join('.') || 'message';
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    if (
      magnitude > Number.MAX_SAFE_INTEGER ||
      (magnitude !== 0 && magnitude < MIN_STORABLE_MAGNITUDE)
    ) {
      return `${where()}: ${value} is outside the range the store can hold`;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (path.length >= MAX_STORED_DEPTH)
    return `${where()}: nested deeper than ${MAX_STORED_DEPTH} levels`;
  for (const [key, inner] of Object.entries(value)) {
    const found = findUnstorable(inner, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * Topic → agent and channel; payload → size check, UTF-8, JSON, channel schema.
 * Pure: no I/O, never throws. Values the store cannot hold are rejected too. Unknown payload keys (a forged "tenant" or
 * "agent_id") are stripped by the schemas.
 */
export function decodeUplink(topic: string, payload: Uint8Array | string): DecodeResult {
  const parsedTopic = parseAgentTopic(topic);
  if (!parsedTopic) return { ok: false, reason: `not an agent uplink topic: ${oneLine(topic)}` };
  const { agentId, channel } = parsedTopic;
  const fail = (reason: string): DecodeResult => ({ ok: false, reason, agentId, channel });
  if (isDownlinkChannel(channel))
    return fail(`${channel} is a downlink channel; agents do not publish on it`);
  const size =
    typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (size > MAX_MESSAGE_BYTES) {
    return fail(`payload is ${size} bytes, over the ${MAX_MESSAGE_BYTES}-byte limit`);
  }
  if (size === 0) return fail('payload is empty');
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : utf8.decode(payload);
  } catch {
    return fail('payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`payload is not JSON: ${oneLine((error as Error).message)}`);
  }
  const result = UPLINK_SCHEMAS[channel].safeParse(json);
  if (!result.success) return fail(`invalid ${channel} message: ${describeIssues(result.error)}`);
  const unstorable = findUnstorable(result.data);
  if (unstorable) return fail(`invalid ${channel} message: ${unstorable}`);
  return { ok: true, agentId, channel, message: result.data } as DecodeResult;
}

/** Reasons are single log-friendly lines: newlines from a payload must not split them. */
function oneLine(text: string): string {
  return clip(text.replace(/\s+/g, ' '));
}

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
