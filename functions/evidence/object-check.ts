import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { storeCall } from '../store/errors.js';

/** What is actually stored under a key: its size and SHA-256, and how the hash was learned. */
export interface StoredObject {
  bytes: number;
  sha256: string;
  /** 's3': S3's own full-object checksum (HeadObject, ChecksumMode ENABLED); 'read': hashed here. */
  source: 's3' | 'read';
}

const isMissing = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * The object's size and SHA-256, or undefined when there is none. S3 returns the checksum it
 * verified on upload (the presigned PUT signs x-amz-checksum-sha256, so S3 refused other bytes);
 * a store that keeps no checksums (s3rver) has the object read and hashed here instead.
 */
export async function inspectObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<StoredObject | undefined> {
  let head: { ContentLength?: number; ChecksumSHA256?: string };
  try {
    head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }),
    );
  } catch (error) {
    if (isMissing(error)) return undefined;
    return storeCall('inspect segment object', () => Promise.reject(error));
  }
  const checksum = head.ChecksumSHA256;
  // "<base64>-<parts>" is a checksum of part checksums (multipart), not of the object.
  if (checksum && !checksum.includes('-') && head.ContentLength !== undefined) {
    return {
      bytes: head.ContentLength,
      sha256: Buffer.from(checksum, 'base64').toString('hex'),
      source: 's3',
    };
  }
  return storeCall('read segment object', async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of out.Body as Readable) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { bytes, sha256: hash.digest('hex'), source: 'read' as const };
  });
}
