import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssemblyUnavailableError,
  assembleWindow,
} from '../../functions/evidence/window-assembly.js';
import {
  type RunningEmulator,
  S3RVER_CREDENTIALS,
  startS3rver,
} from '../../infra/local/emulators.js';

/**
 * The local stack's s3rver with the UploadPartCopy and EntityTooSmall of
 * infra/local/s3rver-part-copy.ts, through the real AWS SDK: copies whole objects and byte
 * ranges into parts, and answers what it refuses with S3's own error codes.
 */

const BUCKET = 'part-copy';
const MiB = 1024 * 1024;
let dir: string;
let server: RunningEmulator;
let s3: S3Client;
const big = randomBytes(5 * MiB + 123);
const small = randomBytes(4000);

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-s3rver-copy-'));
  server = await startS3rver({ directory: dir, host: '127.0.0.1', port: 0 });
  s3 = new S3Client({
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'src/big', Body: big }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'src/a b+c', Body: small }));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function upload(key: string): Promise<string> {
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }),
  );
  return UploadId!;
}

const copyPart = (key: string, uploadId: string, part: number, source: string, range?: string) =>
  s3.send(
    new UploadPartCopyCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      PartNumber: part,
      CopySource: `${BUCKET}/${source.split('/').map(encodeURIComponent).join('/')}`,
      ...(range ? { CopySourceRange: range } : {}),
    }),
  );

async function read(key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

describe('s3rver with UploadPartCopy (local stack)', () => {
  it('copies a whole object and a byte range of another into parts, in order', async () => {
    const id = await upload('out/joined');
    const first = await copyPart('out/joined', id, 1, 'src/big');
    const second = await copyPart('out/joined', id, 2, 'src/a b+c', 'bytes=100-1099');
    expect(first.CopyPartResult?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'out/joined',
        UploadId: id,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.CopyPartResult!.ETag! },
            { PartNumber: 2, ETag: second.CopyPartResult!.ETag! },
          ],
        },
      }),
    );
    expect((await read('out/joined')).equals(Buffer.concat([big, small.subarray(100, 1100)]))).toBe(
      true,
    );
  });

  it('refuses a non-final part under 5 MiB at completion, as S3 does (EntityTooSmall)', async () => {
    const id = await upload('out/too-small');
    const a = await copyPart('out/too-small', id, 1, 'src/a b+c');
    const b = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'out/too-small',
        UploadId: id,
        PartNumber: 2,
        Body: small,
      }),
    );
    await expect(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'out/too-small',
          UploadId: id,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: a.CopyPartResult!.ETag! },
              { PartNumber: 2, ETag: b.ETag! },
            ],
          },
        }),
      ),
    ).rejects.toMatchObject({ name: 'EntityTooSmall' });
  });

  it('answers a missing source, a range outside it and an unknown upload with S3’s codes', async () => {
    const id = await upload('out/errors');
    await expect(copyPart('out/errors', id, 1, 'src/none')).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
    await expect(
      copyPart('out/errors', id, 1, 'src/a b+c', `bytes=0-${small.length}`),
    ).rejects.toMatchObject({ name: 'InvalidRange' });
    await expect(copyPart('out/errors', id, 1, 'src/a b+c', 'bytes=10-5')).rejects.toMatchObject({
      name: 'InvalidRange',
    });
    await expect(copyPart('out/errors', 'f'.repeat(32), 1, 'src/a b+c')).rejects.toMatchObject({
      name: 'NoSuchUpload',
    });
  });

  it('is what windows need: plain s3rver (without it) cannot assemble one, and says why', async () => {
    const plainDir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-s3rver-plain-'));
    const plain = new S3rver({ address: '127.0.0.1', port: 0, directory: plainDir, silent: true });
    const { port } = await plain.run();
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: S3RVER_CREDENTIALS,
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'src/big', Body: big }));
      const window = assembleWindow([{ key: 'src/big', bytes: big.length }], {
        s3: client,
        bucket: BUCKET,
        key: 'out/window',
        scratchPrefix: 'scratch/',
      });
      await expect(window).rejects.toBeInstanceOf(AssemblyUnavailableError);
      await expect(window).rejects.toThrow(/does not implement UploadPartCopy/);
    } finally {
      client.destroy();
      await plain.close();
      rmSync(plainDir, { recursive: true, force: true });
    }
  });
});
