import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type SignedManifest,
  WINDOW_MANIFEST_FORMAT,
  type WindowEntry,
} from '../../protocol/evidence/window-manifest.js';
import { storeCall } from '../store/errors.js';
import type { SegmentRecord, SegmentRepository } from '../store/segments.js';
import type { ManifestSigner } from './manifest-signer.js';
import { assembleWindow, MIN_PART_BYTES } from './window-assembly.js';

/** A window holds at most this many segments (one API request assembles it; Lambda stops at 29 s). */
export const MAX_WINDOW_SEGMENTS = 200;
/**
 * And at most this many bytes: S3 copies them inside AWS, but within the API's 29 s. Not measured
 * against AWS yet (the emulators here are no guide); a larger window needs an asynchronous job.
 */
export const MAX_WINDOW_BYTES = 2 * 1024 ** 3;
/** A window's object and its manifest name the same id. */
export const windowObjectKey = (tenant: string, windowId: string) =>
  `tenants/${tenant}/windows/${windowId}.wfe`;
/** The signed manifest, kept beside the window object (the same JSON the API answers with). */
export const windowManifestKey = (tenant: string, windowId: string) =>
  `tenants/${tenant}/windows/${windowId}.manifest.json`;

export class EmptyWindowError extends Error {
  override readonly name = 'EmptyWindowError';
}
export class WindowTooLargeError extends Error {
  override readonly name = 'WindowTooLargeError';
}

export interface WindowRequest {
  agentIds: string[];
  since: number;
  until: number;
}

export interface WindowDownload {
  url: string;
  /** Presigned GET of the signed manifest kept beside the object. */
  manifest_url: string;
  expires_at: string;
  key: string;
  bytes: number;
  segments: number;
  signed: SignedManifest;
}

/** Per agent, the sequence numbers missing between its first and last segment. */
export function missingSeqs(segments: SegmentRecord[]): number[] {
  const seqs = segments.map((s) => s.seq);
  const present = new Set(seqs);
  const missing: number[] = [];
  for (let seq = Math.min(...seqs); seq < Math.max(...seqs); seq++) {
    if (!present.has(seq)) missing.push(seq);
  }
  return missing;
}

/**
 * One object holding a time window of one or more agents' segments (agents in the order asked,
 * each agent's segments by seq), assembled in S3 without reading them, with a manifest the cloud
 * signs, and a presigned GET for it.
 */
export async function buildWindowDownload(
  deps: {
    segments: SegmentRepository;
    signer: ManifestSigner;
    s3: S3Client;
    bucket: string;
    urlTtlSeconds: number;
    now: () => number;
    minPart?: number;
  },
  tenant: string,
  request: WindowRequest,
): Promise<WindowDownload> {
  const chosen: SegmentRecord[] = [];
  const missing: Record<string, number[]> = {};
  for (const agentId of request.agentIds) {
    const { segments, truncated } = await deps.segments.window(
      tenant,
      agentId,
      request,
      MAX_WINDOW_SEGMENTS - chosen.length,
    );
    if (truncated) {
      throw new WindowTooLargeError(
        `the window holds more than ${MAX_WINDOW_SEGMENTS} segments; ask for a shorter one`,
      );
    }
    if (segments.length === 0) continue;
    segments.sort((a, b) => a.seq - b.seq);
    chosen.push(...segments);
    missing[agentId] = missingSeqs(segments);
  }
  if (chosen.length === 0) {
    throw new EmptyWindowError('no recorded segment of these agents meets this window');
  }
  const total = chosen.reduce((sum, s) => sum + s.bytes, 0);
  if (total > MAX_WINDOW_BYTES) {
    throw new WindowTooLargeError(
      `the window holds ${total} bytes, over the ${MAX_WINDOW_BYTES} one download assembles; ask for a shorter one`,
    );
  }
  const windowId = randomBytes(16).toString('hex');
  const key = windowObjectKey(tenant, windowId);
  let offset = 0;
  const entries: WindowEntry[] = chosen.map((s) => {
    const entry: WindowEntry = {
      agent_id: s.agent_id,
      seq: s.seq,
      segment_id: s.segment_id,
      sha256: s.sha256,
      bytes: s.bytes,
      offset,
      started_at: s.started_at,
      ended_at: s.ended_at,
      packets: s.packets,
      cipher: s.cipher,
      key_id: s.key_id,
    };
    offset += s.bytes;
    return entry;
  });
  await assembleWindow(
    chosen.map((s) => ({ key: s.object_key, bytes: s.bytes })),
    {
      s3: deps.s3,
      bucket: deps.bucket,
      key,
      scratchPrefix: `tenants/${tenant}/windows/${windowId}.scratch/`,
      ...(deps.minPart ? { minPart: deps.minPart } : { minPart: MIN_PART_BYTES }),
    },
  );
  const nowMs = deps.now();
  const signed = await deps.signer.sign({
    format: WINDOW_MANIFEST_FORMAT,
    window_id: windowId,
    tenant,
    agent_ids: request.agentIds,
    since: request.since,
    until: request.until,
    created_at: new Date(nowMs).toISOString(),
    bytes: offset,
    segments: entries,
    missing_seqs: missing,
  });
  const manifestKey = windowManifestKey(tenant, windowId);
  await storeCall('store window manifest', () =>
    deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: manifestKey,
        Body: JSON.stringify(signed),
        ContentType: 'application/json',
      }),
    ),
  );
  const presign = (objectKey: string, filename: string, type: string) =>
    getSignedUrl(
      deps.s3,
      new GetObjectCommand({
        Bucket: deps.bucket,
        Key: objectKey,
        ResponseContentDisposition: `attachment; filename="${filename}"`,
        ResponseContentType: type,
      }),
      { expiresIn: deps.urlTtlSeconds, signingDate: new Date(nowMs) },
    );
  const url = await presign(key, `window-${windowId}.wfe`, 'application/octet-stream');
  const manifestUrl = await presign(
    manifestKey,
    `window-${windowId}.manifest.json`,
    'application/json',
  );
  return {
    url,
    manifest_url: manifestUrl,
    expires_at: new Date(nowMs + deps.urlTtlSeconds * 1000).toISOString(),
    key,
    bytes: offset,
    segments: entries.length,
    signed,
  };
}
