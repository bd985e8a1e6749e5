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

/** How much one window may hold. */
export interface WindowLimits {
  segments: number;
  bytes: number;
}
/**
 * Assembled inside one API request (Lambda stops at 29 s). S3 copies the bytes inside AWS, but
 * the byte cap is not measured against AWS yet (the emulators here are no guide). A larger
 * window becomes a job (window-job.ts).
 */
export const REQUEST_WINDOW_LIMITS: WindowLimits = { segments: 200, bytes: 2 * 1024 ** 3 };
/**
 * Assembled by a job (a Lambda runs up to 15 min, and a job that runs out of time is marked
 * failed): S3 takes at most 10,000 parts per upload and 5 TiB per object.
 */
export const JOB_WINDOW_LIMITS: WindowLimits = { segments: 10_000, bytes: 5 * 1024 ** 4 };
/** A window's object and its manifest name the same id. */
export const windowObjectKey = (tenant: string, windowId: string) =>
  `tenants/${tenant}/windows/${windowId}.wfe`;
/** The signed manifest, kept beside the window object (the same JSON the API answers with). */
export const windowManifestKey = (tenant: string, windowId: string) =>
  `tenants/${tenant}/windows/${windowId}.manifest.json`;
export const newWindowId = () => randomBytes(16).toString('hex');

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

export interface WindowBuildDeps {
  segments: SegmentRepository;
  signer: ManifestSigner;
  s3: S3Client;
  bucket: string;
  now: () => number;
  minPart?: number;
}

/** A window object in S3, with the signed manifest kept beside it. */
export interface AssembledWindow {
  windowId: string;
  key: string;
  manifestKey: string;
  bytes: number;
  packets: number;
  segments: number;
  signed: SignedManifest;
}

/** The window's segments (agents in the order asked, each agent's by seq), within `limits`. */
async function selectSegments(
  repo: SegmentRepository,
  tenant: string,
  request: WindowRequest,
  limits: WindowLimits,
): Promise<{ chosen: SegmentRecord[]; missing: Record<string, number[]> }> {
  const chosen: SegmentRecord[] = [];
  const missing: Record<string, number[]> = {};
  for (const agentId of request.agentIds) {
    const { segments, truncated } = await repo.window(
      tenant,
      agentId,
      request,
      limits.segments - chosen.length,
    );
    if (truncated) {
      throw new WindowTooLargeError(
        `the window holds more than ${limits.segments} segments; ask for a shorter one`,
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
  if (total > limits.bytes) {
    throw new WindowTooLargeError(
      `the window holds ${total} bytes, over the ${limits.bytes} one window holds; ask for a shorter one`,
    );
  }
  return { chosen, missing };
}

/**
 * One object holding a time window of one or more agents' segments, assembled in S3 without
 * reading them, and a manifest the cloud signs, stored beside it. Throws EmptyWindowError,
 * WindowTooLargeError (over `limits`, before anything is copied) or AssemblyUnavailableError.
 */
export async function assembleSignedWindow(
  deps: WindowBuildDeps,
  tenant: string,
  request: WindowRequest,
  options: { windowId: string; limits: WindowLimits },
): Promise<AssembledWindow> {
  const { chosen, missing } = await selectSegments(deps.segments, tenant, request, options.limits);
  const { windowId } = options;
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
      minPart: deps.minPart ?? MIN_PART_BYTES,
    },
  );
  const signed = await deps.signer.sign({
    format: WINDOW_MANIFEST_FORMAT,
    window_id: windowId,
    tenant,
    agent_ids: request.agentIds,
    since: request.since,
    until: request.until,
    created_at: new Date(deps.now()).toISOString(),
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
  return {
    windowId,
    key,
    manifestKey,
    bytes: offset,
    packets: chosen.reduce((sum, s) => sum + s.packets, 0),
    segments: entries.length,
    signed,
  };
}

/** Short-lived presigned GETs of a window object and its manifest. */
export async function presignWindow(
  deps: { s3: S3Client; bucket: string; urlTtlSeconds: number },
  window: { windowId: string; key: string; manifestKey: string },
  nowMs: number,
): Promise<{ url: string; manifest_url: string; expires_at: string }> {
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
  return {
    url: await presign(window.key, `window-${window.windowId}.wfe`, 'application/octet-stream'),
    manifest_url: await presign(
      window.manifestKey,
      `window-${window.windowId}.manifest.json`,
      'application/json',
    ),
    expires_at: new Date(nowMs + deps.urlTtlSeconds * 1000).toISOString(),
  };
}

/** A window assembled now, within `limits` (REQUEST_WINDOW_LIMITS), with presigned GETs for it. */
export async function buildWindowDownload(
  deps: WindowBuildDeps & { urlTtlSeconds: number },
  tenant: string,
  request: WindowRequest,
  limits = REQUEST_WINDOW_LIMITS,
): Promise<WindowDownload> {
  const window = await assembleSignedWindow(deps, tenant, request, {
    windowId: newWindowId(),
    limits,
  });
  const links = await presignWindow(deps, window, deps.now());
  return {
    ...links,
    key: window.key,
    bytes: window.bytes,
    segments: window.segments,
    signed: window.signed,
  };
}
