import * as z from 'zod';
import { CIPHER_SUITES, type CipherSuite } from './format.js';

/**
 * How an agent hands an encrypted segment to the cloud (issue 11), over MQTT:
 *
 *   agent → cloud, uplink channel `segments`:   upload_request, then upload_complete
 *   cloud → agent, downlink channel `uploads`:  upload_url, upload_confirmed or upload_refused
 *
 * 1. The agent asks for a presigned PUT for one spooled segment (upload_request).
 * 2. The cloud answers upload_url: a PUT to tenants/{tenant}/agents/{agent}/segments/{segment_id},
 *    short-lived and bound to the content length and SHA-256 the agent declared. When that segment
 *    is already recorded, it answers upload_confirmed at once (an agent that crashed after its
 *    upload must not upload twice).
 * 3. The agent PUTs the bytes, then says upload_complete.
 * 4. The cloud checks the object (size and SHA-256), records the segment (agent and tenant from
 *    the agent's identity, never from the payload) and answers upload_confirmed. Only then does the
 *    agent delete the segment from its spool. upload_refused says why (retry true: ask again later).
 */

export const SEGMENT_UPLINK_CHANNEL = 'segments';
export const SEGMENT_DOWNLINK_CHANNEL = 'uploads';

/** The header's 16-byte segment id, hex: also the object name and the API's id. */
export const SEGMENT_ID_PATTERN = /^[0-9a-f]{32}$/;
/** A segment is at most this big on the wire (the native engine cuts pcap segments at 64 MiB). */
export const MAX_SEGMENT_BYTES = 256 * 1024 * 1024;

const segmentId = z.string().regex(SEGMENT_ID_PATTERN, 'a segment id is 32 hex digits');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 hex digits');
const epochSeconds = z.number().nonnegative().finite();

export const uploadRequestSchema = z.strictObject({
  type: z.literal('upload_request'),
  segment_id: segmentId,
  /** Per agent, from 0, one higher for every segment it records, never reused (also in the header's context). */
  seq: z.number().int().nonnegative(),
  /** Size of the encrypted segment, as uploaded. */
  bytes: z.number().int().positive().max(MAX_SEGMENT_BYTES),
  /** SHA-256 of the encrypted segment. */
  sha256: sha256Hex,
  cipher: z.enum(CIPHER_SUITES as [CipherSuite, ...CipherSuite[]]),
  /** The header's key id (hex): which master key can open it. */
  key_id: z.string().regex(/^[0-9a-f]{32}$/),
  started_at: epochSeconds,
  ended_at: epochSeconds,
  packets: z.number().int().nonnegative(),
});
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

export const uploadCompleteSchema = z.strictObject({
  type: z.literal('upload_complete'),
  segment_id: segmentId,
});
export type UploadComplete = z.infer<typeof uploadCompleteSchema>;

/** Everything an agent may publish on `segments`. */
export const segmentUplinkSchema = z.discriminatedUnion('type', [
  uploadRequestSchema,
  uploadCompleteSchema,
]);
export type SegmentUplink = z.infer<typeof segmentUplinkSchema>;

export const uploadUrlSchema = z.strictObject({
  type: z.literal('upload_url'),
  segment_id: segmentId,
  method: z.literal('PUT'),
  url: z.string().url(),
  /** Headers the PUT must carry exactly (content length and checksum are signed into the URL). */
  headers: z.record(z.string(), z.string()),
  expires_at: z.string(),
});
export type UploadUrl = z.infer<typeof uploadUrlSchema>;

export const uploadConfirmedSchema = z.strictObject({
  type: z.literal('upload_confirmed'),
  segment_id: segmentId,
});
export type UploadConfirmed = z.infer<typeof uploadConfirmedSchema>;

export const uploadRefusedSchema = z.strictObject({
  type: z.literal('upload_refused'),
  segment_id: segmentId,
  code: z.string(),
  message: z.string(),
  /** True when asking again later may succeed (store down); false when this segment never will. */
  retry: z.boolean(),
});
export type UploadRefused = z.infer<typeof uploadRefusedSchema>;

/** Everything the cloud may publish on `uploads`. */
export const segmentDownlinkSchema = z.discriminatedUnion('type', [
  uploadUrlSchema,
  uploadConfirmedSchema,
  uploadRefusedSchema,
]);
export type SegmentDownlink = z.infer<typeof segmentDownlinkSchema>;
