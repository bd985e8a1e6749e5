import { randomBytes } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PCAP_MEDIA_TYPE } from '../../protocol/pcap.js';
import { PCAPNG_MEDIA_TYPE } from '../../protocol/pcapng.js';
import type { PacketFilter, PacketRepository } from '../store/packets.js';
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

/**
 * Builds a capture file of the newest `count` matching packets into S3, in
 * time order, and returns a presigned GET URL for it. Memory stays bounded:
 * a keys-only pass finds the window, a second pass streams it into a
 * multipart upload.
 */
export async function exportPcap(
  deps: PcapExportDeps,
  tenant: string,
  request: { count: number; format: PcapFormat; filter: PacketFilter; packetId?: string },
  now = new Date(),
): Promise<PcapDownload> {
  let newest: string | undefined;
  let oldest: string | undefined;
  if (request.packetId) {
    newest = oldest = request.packetId;
  } else {
    for await (const id of deps.packets.selectIds(tenant, request.filter, {
      newestFirst: true,
      limit: request.count,
    })) {
      newest ??= id;
      oldest = id;
    }
  }
  if (!newest || !oldest) throw new NoPacketsError('no packets match the selection');

  const extension = request.format;
  const filename = request.packetId
    ? `lisp_packet_${request.packetId}.${extension}`
    : `lisp_packets_${stamp(now)}.${extension}`;
  const contentType = request.format === 'pcap' ? PCAP_MEDIA_TYPE : PCAPNG_MEDIA_TYPE;
  const disposition = `attachment; filename="${filename}"`;
  const key = `tenants/${tenant}/pcaps/${stamp(now).slice(0, 8)}/${filename.replace(/\.\w+$/, '')}-${randomBytes(4).toString('hex')}.${extension}`;

  const counters: FileStreamCounters = { packets: 0, bytes: 0 };
  const body = captureFileStream(
    deps.packets.select(tenant, request.filter, {
      newestFirst: false,
      limit: request.count,
      fromId: oldest,
      toId: newest,
    }),
    request.format,
    counters,
  );
  await new Upload({
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
  }).done();

  const ttl = Math.min(Math.max(Math.floor(deps.urlTtlSeconds), 1), MAX_URL_TTL_SECONDS);
  const url = await getSignedUrl(
    deps.s3,
    new GetObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      ResponseContentType: contentType,
      ResponseContentDisposition: disposition,
    }),
    { expiresIn: ttl },
  );
  return {
    url,
    expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
    key,
    filename,
    content_type: contentType,
    packets: counters.packets,
    bytes: counters.bytes,
  };
}
