import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type {
  SegmentDownlink,
  SegmentUplink,
  UploadComplete,
  UploadRequest,
} from '../../protocol/evidence/upload-messages.js';
import type { DownlinkPublisher } from '../api/command-publisher.js';
import type { Logger } from '../logger.js';
import type { SegmentRepository } from '../store/segments.js';
import { segmentObjectKey } from '../store/segments.js';
import { inspectObject } from './object-check.js';
import { DEFAULT_UPLOAD_URL_TTL_SECONDS, presignSegmentPut } from './presign-upload.js';

/** The answer could not be published; the uplink message is retried (every answer is idempotent). */
export class DownlinkUnavailableError extends Error {
  override readonly name = 'DownlinkUnavailableError';
}

export interface SegmentUploadsDeps {
  segments: SegmentRepository;
  s3: S3Client;
  bucket: string;
  publisher: DownlinkPublisher;
  logger: Logger;
  urlTtlSeconds?: number;
  now?: () => number;
}

export interface SegmentOutcome {
  status: 'stored' | 'duplicate' | 'rejected';
  answer: SegmentDownlink['type'];
  reason?: string;
}

/**
 * The cloud side of the evidence upload contract (protocol/evidence/upload-messages.ts):
 * answers an agent's `segments` messages on its `uploads` topic. Tenant and agent come from the
 * caller (registry and topic), never from the payload. Every answer can be given again, so a
 * redelivered message (broker retry, Lambda retry) does no harm.
 */
export class SegmentUploads {
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(private readonly deps: SegmentUploadsDeps) {
    this.ttl = deps.urlTtlSeconds ?? DEFAULT_UPLOAD_URL_TTL_SECONDS;
    this.now = deps.now ?? Date.now;
  }

  handle(tenant: string, agentId: string, message: SegmentUplink): Promise<SegmentOutcome> {
    return message.type === 'upload_request'
      ? this.request(tenant, agentId, message)
      : this.complete(tenant, agentId, message);
  }

  private async request(
    tenant: string,
    agentId: string,
    request: UploadRequest,
  ): Promise<SegmentOutcome> {
    const id = request.segment_id;
    if (request.ended_at < request.started_at) {
      return this.refuse(agentId, id, 'invalid_time_range', 'ended_at is before started_at', false);
    }
    const existing = await this.deps.segments.get(tenant, id);
    if (existing && existing.agent_id !== agentId) {
      return this.refuse(
        agentId,
        id,
        'segment_id_taken',
        'another agent owns this segment id',
        false,
      );
    }
    if (existing?.status === 'recorded') {
      if (existing.sha256 !== request.sha256 || existing.bytes !== request.bytes) {
        return this.refuse(
          agentId,
          id,
          'segment_recorded_differently',
          'this segment id is recorded with another size or SHA-256',
          false,
        );
      }
      // Uploaded and recorded before (the agent crashed before it heard): nothing to upload again.
      await this.answer(agentId, { type: 'upload_confirmed', segment_id: id });
      return { status: 'duplicate', answer: 'upload_confirmed' };
    }
    const nowMs = this.now();
    if ((await this.deps.segments.putPending(tenant, agentId, request, nowMs)) === 'taken') {
      // Recorded or taken between our read and write: the agent asks again and hears which.
      return this.refuse(agentId, id, 'segment_busy', 'this segment id changed meanwhile', true);
    }
    const put = await presignSegmentPut(
      this.deps.s3,
      {
        bucket: this.deps.bucket,
        key: segmentObjectKey(tenant, agentId, id),
        bytes: request.bytes,
        sha256: request.sha256,
      },
      { ttlSeconds: this.ttl, nowMs },
    );
    await this.answer(agentId, {
      type: 'upload_url',
      segment_id: id,
      method: 'PUT',
      url: put.url,
      headers: put.headers,
      expires_at: put.expiresAt.toISOString(),
    });
    return { status: 'stored', answer: 'upload_url' };
  }

  private async complete(
    tenant: string,
    agentId: string,
    message: UploadComplete,
  ): Promise<SegmentOutcome> {
    const id = message.segment_id;
    const item = await this.deps.segments.get(tenant, id);
    if (!item) {
      return this.refuse(
        agentId,
        id,
        'unknown_upload',
        'no upload was requested for this segment',
        true,
      );
    }
    if (item.agent_id !== agentId) {
      return this.refuse(
        agentId,
        id,
        'segment_id_taken',
        'another agent owns this segment id',
        false,
      );
    }
    if (item.status === 'recorded') {
      await this.answer(agentId, { type: 'upload_confirmed', segment_id: id });
      return { status: 'duplicate', answer: 'upload_confirmed' };
    }
    const stored = await inspectObject(this.deps.s3, this.deps.bucket, item.object_key);
    if (!stored) {
      return this.refuse(
        agentId,
        id,
        'object_missing',
        'no object was uploaded for this segment',
        true,
      );
    }
    if (stored.bytes !== item.bytes || stored.sha256 !== item.sha256) {
      // Keep nothing unverified under the segment's name; the agent uploads again from its spool.
      await this.deps.s3
        .send(new DeleteObjectCommand({ Bucket: this.deps.bucket, Key: item.object_key }))
        .catch(() => undefined);
      return this.refuse(
        agentId,
        id,
        'checksum_mismatch',
        `the uploaded object (${stored.bytes} bytes, SHA-256 ${stored.sha256.slice(0, 16)}…) is not the declared one (${item.bytes} bytes, ${item.sha256.slice(0, 16)}…)`,
        true,
      );
    }
    await this.deps.segments.record(tenant, item, this.now());
    await this.answer(agentId, { type: 'upload_confirmed', segment_id: id });
    return { status: 'stored', answer: 'upload_confirmed' };
  }

  private async refuse(
    agentId: string,
    segmentId: string,
    code: string,
    message: string,
    retry: boolean,
  ): Promise<SegmentOutcome> {
    await this.answer(agentId, {
      type: 'upload_refused',
      segment_id: segmentId,
      code,
      message,
      retry,
    });
    this.deps.logger.warn('segment upload refused', { agentId, segmentId, code, message });
    return { status: 'rejected', answer: 'upload_refused', reason: `${code}: ${message}` };
  }

  private async answer(agentId: string, message: SegmentDownlink): Promise<void> {
    try {
      await this.deps.publisher.publishDownlink(agentId, 'uploads', message);
    } catch (error) {
      throw new DownlinkUnavailableError(
        `could not publish ${message.type} to agent ${agentId}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
