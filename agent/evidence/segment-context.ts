import * as z from 'zod';
import { agentIdSchema } from '../../protocol/agent-messages.js';
import { MAX_CONTEXT_LENGTH } from '../../protocol/evidence/format.js';

/**
 * What the recorder binds into every segment's header context (authenticated with the header,
 * not encrypted): whose segment it is, its place in the agent's sequence and what it covers.
 * Decrypt can then check order and gaps from the segments themselves, without trusting the
 * cloud's records. JSON, one line, keys in this order.
 */
export const segmentContextSchema = z.strictObject({
  /** Which layout this is (this one: 1). */
  v: z.literal(1),
  agent_id: agentIdSchema,
  /** Per agent, from 0, one higher for every segment recorded, never reused. */
  seq: z.number().int().nonnegative(),
  /** Epoch seconds of the first and last packet. */
  started_at: z.number().nonnegative().finite(),
  ended_at: z.number().nonnegative().finite(),
  packets: z.number().int().nonnegative(),
});
export type SegmentContext = z.infer<typeof segmentContextSchema>;

export class SegmentContextError extends Error {
  override readonly name = 'SegmentContextError';
}

export function encodeSegmentContext(context: Omit<SegmentContext, 'v'>): Buffer {
  const bytes = Buffer.from(
    JSON.stringify({
      v: 1,
      agent_id: context.agent_id,
      seq: context.seq,
      started_at: context.started_at,
      ended_at: context.ended_at,
      packets: context.packets,
    }),
  );
  if (bytes.length > MAX_CONTEXT_LENGTH) throw new SegmentContextError('segment context too long');
  return bytes;
}

export function parseSegmentContext(bytes: Uint8Array): SegmentContext {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new SegmentContextError('segment context is not JSON');
  }
  const parsed = segmentContextSchema.safeParse(value);
  if (!parsed.success) {
    throw new SegmentContextError(`segment context is not a recorder's: ${parsed.error.message}`);
  }
  return parsed.data;
}
