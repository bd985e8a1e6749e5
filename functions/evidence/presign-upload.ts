import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** Upload URLs live this long by default; S3 checks expiry when the PUT starts, not when it ends. */
export const DEFAULT_UPLOAD_URL_TTL_SECONDS = 300;
export const MAX_UPLOAD_URL_TTL_SECONDS = 3600;

export interface SegmentPut {
  url: string;
  /** Exactly these headers must accompany the PUT: both are signed into the URL. */
  headers: Record<string, string>;
  expiresAt: Date;
}

/**
 * A presigned PUT for one segment object, bound to its size and SHA-256. Content-Length and
 * x-amz-checksum-sha256 are signed headers (the checksum is kept out of the query string, where S3
 * would answer 403): S3 refuses a PUT with another length (the signature no longer matches) and,
 * with BadDigest, a body whose SHA-256 is not the declared one. The key is the one object; the
 * URL can do nothing else, and dies at expiresAt (or with the signing role's session, if sooner).
 */
export async function presignSegmentPut(
  s3: S3Client,
  target: { bucket: string; key: string; bytes: number; sha256: string },
  options: { ttlSeconds: number; nowMs: number },
): Promise<SegmentPut> {
  const checksum = Buffer.from(target.sha256, 'hex').toString('base64');
  const command = new PutObjectCommand({
    Bucket: target.bucket,
    Key: target.key,
    ContentLength: target.bytes,
    ChecksumSHA256: checksum,
  });
  const url = await getSignedUrl(s3, command, {
    expiresIn: options.ttlSeconds,
    signingDate: new Date(options.nowMs),
    unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    signableHeaders: new Set(['content-length', 'x-amz-checksum-sha256']),
  });
  return {
    url,
    headers: {
      'content-length': String(target.bytes),
      'x-amz-checksum-sha256': checksum,
    },
    expiresAt: new Date(options.nowMs + options.ttlSeconds * 1000),
  };
}
