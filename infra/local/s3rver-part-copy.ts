import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import authentication from 's3rver/lib/middleware/authentication.js';
import S3Error from 's3rver/lib/models/error.js';

/**
 * What s3rver lacks and evidence windows need: UploadPartCopy (a part of a multipart upload
 * copied from a stored object, optionally a byte range of it), and S3's EntityTooSmall rule
 * at CompleteMultipartUpload (every part but the last at least 5 MiB), so that the local stack
 * assembles windows, and refuses bad part plans, as AWS S3 does. The bytes go from s3rver's
 * store to s3rver's store: the API process never reads them, as in AWS.
 *
 * Installed as Koa middleware just before s3rver's router; everything else passes through.
 */

/** S3: every part of a multipart upload but the last is at least 5 MiB. */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** The slice of s3rver's FilesystemStore this uses. */
interface Store {
  rootDirectory: string;
  getBucket(bucket: string): Promise<unknown>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getObject(
    bucket: string,
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ content: NodeJS.ReadableStream; size: number } | null>;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  putPart(
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: NodeJS.ReadableStream,
  ): Promise<{ md5: string; size: number }>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
}

interface Context {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string>;
  store: Store;
  body: unknown;
}

type Next = () => Promise<unknown>;
type Middleware = (ctx: Context, next: Next) => Promise<unknown>;

/** Adds UploadPartCopy and EntityTooSmall to a running s3rver (a Koa app). */
export function installPartCopy(server: object): void {
  const app = server as { middleware: Middleware[] };
  // s3rver's router is the last middleware it installs; ours goes just before it.
  app.middleware.splice(app.middleware.length - 1, 0, partCopyMiddleware());
}

function partCopyMiddleware(): Middleware {
  const authenticate = authentication() as Middleware;
  return async (ctx, next) => {
    const isPart = 'uploadId' in ctx.query && 'partNumber' in ctx.query;
    if (ctx.method === 'PUT' && isPart && ctx.headers['x-amz-copy-source']) {
      ctx.params = objectParams(ctx.path);
      return authenticate(ctx, () => uploadPartCopy(ctx));
    }
    if (ctx.method === 'POST' && 'uploadId' in ctx.query) {
      await refuseSmallParts(ctx);
    }
    return next();
  };
}

function objectParams(requestPath: string): { bucket: string; key: string } {
  const [bucket = '', ...key] = requestPath.slice(1).split('/');
  return { bucket, key: key.map(decodeURIComponent).join('/') };
}

async function uploadPartCopy(ctx: Context): Promise<void> {
  const bucket = ctx.params?.bucket ?? '';
  const uploadId = String(ctx.query.uploadId);
  const partNumber = Number(ctx.query.partNumber);
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000.');
  }
  if (!(await exists(uploadDir(ctx.store, bucket, uploadId)))) {
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', {
      UploadId: uploadId,
    });
  }
  const source = String(ctx.headers['x-amz-copy-source']).replace(/^\//, '');
  const [srcBucket = '', ...srcKeyParts] = source.split('?')[0]!.split('/');
  const srcKey = srcKeyParts.map(decodeURIComponent).join('/');
  if (!(await ctx.store.getBucket(srcBucket))) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
      BucketName: srcBucket,
    });
  }
  if (!(await ctx.store.existsObject(srcBucket, srcKey))) {
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
  }
  const size = Number((await ctx.store.getMetadata(srcBucket, srcKey))['content-length']);
  const range = copyRange(ctx.headers['x-amz-copy-source-range'], size);
  const object = await ctx.store.getObject(srcBucket, srcKey, range);
  if (!object) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
  const { md5 } = await ctx.store.putPart(bucket, uploadId, partNumber, object.content);
  ctx.body = {
    CopyPartResult: { LastModified: new Date().toISOString(), ETag: JSON.stringify(md5) },
  };
}

/** `bytes=first-last`, inclusive and inside the object, as S3 requires; the whole object without one. */
function copyRange(
  header: string | string[] | undefined,
  size: number,
): { start: number; end: number } {
  if (header === undefined) return { start: 0, end: Math.max(0, size - 1) };
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(header));
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (!match || end < start || end >= size) {
    throw new S3Error(
      'InvalidRange',
      `The x-amz-copy-source-range value must be bytes=first-last within the object's ${size} bytes.`,
    );
  }
  return { start, end };
}

/** EntityTooSmall: checked over every part uploaded, which is what our clients complete with. */
async function refuseSmallParts(ctx: Context): Promise<void> {
  const { bucket } = objectParams(ctx.path);
  const dir = uploadDir(ctx.store, bucket, String(ctx.query.uploadId));
  const names = await readdir(dir).catch(() => [] as string[]);
  const parts = names.filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(a) - Number(b));
  for (const name of parts.slice(0, -1)) {
    const { size } = await stat(path.join(dir, name));
    if (size < MIN_PART_BYTES) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        { PartNumber: name, ProposedSize: String(size), MinSizeAllowed: String(MIN_PART_BYTES) },
      );
    }
  }
}

const uploadDir = (store: Store, bucket: string, uploadId: string) =>
  path.join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
