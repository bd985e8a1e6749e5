import { randomBytes } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PCAP_MEDIA_TYPE } from '../../protocol/pcap.js';
import { PCAPNG_MEDIA_TYPE } from '../../protocol/pcapng.js';
import type { PacketFilter, PacketRepository, StoredPacket } from '../store/packets.js';
import { type ExportPlan, planExport, readSegments } from './export-plan.js';
import { captureFileStream, type FileStreamCounters, type PcapFormat } from './file-stream.js';

export const MAX_EXPORT_PACKETS = 100_000;
export const MAX_URL_TTL_SECONDS = 900;

export interface PcapExportDeps {
  packets: PacketRepository;
  s3: S3Client;
  bucket: string;
  /** Lifetime of presigned URLs, at most 15 minutes. */
  urlTtlSeconds: number;
}

export interface PcapExportRequest {
  count: number;
  format: PcapFormat;
  filter: PacketFilter;
  packetId?: string;
}

/** A capture file in S3, as built. */
export interface CaptureFile {
  key: string;
  filename: string;
  contentType: string;
  disposition: string;
  packets: number;
  bytes: number;
}

export interface PcapDownload {
  url: string;
  expires_at: string;
  key: string;
  filename: string;
  content_type: string;
  packets: number;
  bytes: number;
}

/** The selection matched nothing, so there is no file to build. */
export class NoPacketsError extends Error {
  override readonly name = 'NoPacketsError';
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

export interface BuildOptions {
  now?: Date;
  /** Aborting stops the upload and removes its parts. */
  signal?: AbortSignal;
  /** Filled in as bytes flow (progress). */
  counters?: FileStreamCounters;
}

/**
 * Streams the planned packets, in time order, into a multipart upload.
 * Memory stays bounded: segments are read a few at a time (in parallel) and
 * the file goes out in 5 MiB parts.
 */
export async function buildCaptureFile(
  deps: Pick<PcapExportDeps, 'packets' | 's3' | 'bucket'>,
  tenant: string,
  request: PcapExportRequest,
  plan: ExportPlan,
  options: BuildOptions = {},
): Promise<CaptureFile> {
  if (plan.packets === 0 || plan.segments.length === 0) {
    throw new NoPacketsError('no packets match the selection');
  }
  const filter = request.packetId ? {} : request.filter;
  const packets = readSegments(
    (segment) =>
      deps.packets.select(tenant, filter, {
        newestFirst: false,
        limit: segment.count,
        fromId: segment.fromId,
        toId: segment.toId,
      }),
    plan.segments,
  );
  return uploadCaptureFile(deps, tenant, request, packets, options);
}

/** Names the file, encodes `packets` (in time order) and uploads it in 5 MiB parts. */
export async function uploadCaptureFile(
  deps: Pick<PcapExportDeps, 's3' | 'bucket'>,
  tenant: string,
  request: Pick<PcapExportRequest, 'format' | 'packetId'>,
  packets: AsyncIterable<StoredPacket>,
  options: BuildOptions = {},
): Promise<CaptureFile> {
  const now = options.now ?? new Date();
  const extension = request.format;
  const filename = request.packetId
    ? `lisp_packet_${request.packetId}.${extension}`
    : `lisp_packets_${stamp(now)}.${extension}`;
  const contentType = request.format === 'pcap' ? PCAP_MEDIA_TYPE : PCAPNG_MEDIA_TYPE;
  const disposition = `attachment; filename="${filename}"`;
  const key = `tenants/${tenant}/pcaps/${stamp(now).slice(0, 8)}/${filename.replace(/\.\w+$/, '')}-${randomBytes(4).toString('hex')}.${extension}`;

  const counters = options.counters ?? { packets: 0, bytes: 0 };
  const body = captureFileStream(packets, request.format, counters);
  const upload = new Upload({
    client: deps.s3,
    params: {
      Bucket: deps.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ContentDisposition: disposition,
    },
    queueSize: 2,
    partSize: 5 * 1024 * 1024,
    leavePartsOnError: false,
  });
  const abort = () => {
    void upload.abort();
    body.destroy();
  };
  options.signal?.throwIfAborted();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await upload.done();
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  options.signal?.throwIfAborted();
  return {
    key,
    filename,
    contentType,
    disposition,
    packets: counters.packets,
    bytes: counters.bytes,
  };
}

/** A presigned GET for a built file, valid for the configured TTL (at most 15 minutes). */
export async function presignCaptureFile(
  deps: Pick<PcapExportDeps, 's3' | 'bucket' | 'urlTtlSeconds'>,
  file: Pick<CaptureFile, 'key' | 'contentType' | 'disposition'>,
  now = new Date(),
): Promise<{ url: string; expires_at: string }> {
  const ttl = Math.min(Math.max(Math.floor(deps.urlTtlSeconds), 1), MAX_URL_TTL_SECONDS);
  const url = await getSignedUrl(
    deps.s3,
    new GetObjectCommand({
      Bucket: deps.bucket,
      Key: file.key,
      ResponseContentType: file.contentType,
      ResponseContentDisposition: file.disposition,
    }),
    { expiresIn: ttl },
  );
  return { url, expires_at: new Date(now.getTime() + ttl * 1000).toISOString() };
}

/** The download as the API describes it. */
export function describeDownload(
  file: CaptureFile,
  link: { url: string; expires_at: string },
): PcapDownload {
  return {
    url: link.url,
    expires_at: link.expires_at,
    key: file.key,
    filename: file.filename,
    content_type: file.contentType,
    packets: file.packets,
    bytes: file.bytes,
  };
}

/**
 * Builds a capture file of the newest `count` matching packets into S3, in
 * time order, and returns a presigned GET URL for it: a keys-only pass plans
 * the segments (or takes `plan`), a second pass reads them in parallel and
 * streams them into a multipart upload.
 */
export async function exportPcap(
  deps: PcapExportDeps,
  tenant: string,
  request: PcapExportRequest,
  now = new Date(),
  plan?: ExportPlan,
): Promise<PcapDownload> {
  const planned = plan ?? (await planExport(deps.packets, tenant, request));
  const file = await buildCaptureFile(deps, tenant, request, planned, { now });
  return describeDownload(file, await presignCaptureFile(deps, file, now));
}
