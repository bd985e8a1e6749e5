import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';

/** S3: every part of a multipart upload but the last is at least 5 MiB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3: at most 10,000 parts. */
export const MAX_PARTS = 10_000;

export interface AssemblySource {
  key: string;
  bytes: number;
}

/**
 * One part of the window object: a segment copied whole, or several small segments first
 * joined in a scratch object (see planWindow) and copied from it by byte range.
 */
export type PartPlan =
  | { kind: 'whole'; source: AssemblySource }
  | { kind: 'joined'; sources: AssemblySource[]; bytes: number };

/**
 * Groups the segments, in order, into parts of at least `minPart` bytes (the last may be
 * smaller). A segment of at least `minPart` that starts a group is a part on its own
 * (UploadPartCopy of the whole object). Smaller segments are gathered with those that follow
 * until the group reaches `minPart`; such a group becomes one part through a scratch object.
 */
export function planWindow(sources: AssemblySource[], minPart = MIN_PART_BYTES): PartPlan[] {
  const parts: PartPlan[] = [];
  let group: AssemblySource[] = [];
  let bytes = 0;
  const close = () => {
    if (group.length === 1) parts.push({ kind: 'whole', source: group[0]! });
    else if (group.length > 1) parts.push({ kind: 'joined', sources: group, bytes });
    group = [];
    bytes = 0;
  };
  for (const source of sources) {
    group.push(source);
    bytes += source.bytes;
    if (bytes >= minPart) close();
  }
  close();
  return parts;
}

/** The store lacks UploadPartCopy (plain s3rver answers NotImplemented): windows cannot be assembled. */
export class AssemblyUnavailableError extends Error {
  override readonly name = 'AssemblyUnavailableError';
}

export interface AssembleOptions {
  s3: S3Client;
  bucket: string;
  /** Where the window object goes. */
  key: string;
  /** Scratch objects go under this prefix and are deleted afterwards. */
  scratchPrefix: string;
  minPart?: number;
}

/** S3 requests in flight at once while a window is assembled. */
export const ASSEMBLY_CONCURRENCY = 8;

interface Joined {
  key: string;
  /** Object size, filler included. */
  bytes: number;
}

/**
 * Concatenates the segment objects, in order, into one object, server-side: S3 multipart upload
 * with UploadPartCopy, so no segment byte passes through this process.
 *
 * S3 refuses a non-final part under 5 MiB (EntityTooSmall), so two small objects cannot be joined
 * by copying them as parts. A group of small segments (see planWindow) is joined behind a filler:
 * one scratch object of `minPart` zero bytes is uploaded (the only bytes this process sends);
 * each segment s becomes F+s (parts [F, s], s last); then pairs are merged level by level,
 * (F+a) + (F+b) -> F+a+b with parts [F+a (>= minPart), the range of F+b after F (last)], in
 * parallel, log2(n) levels deep. The group's part in the window object is the range after F.
 * Every range copied is of an object over 5 MB, as UploadPartCopy requires.
 */
export async function assembleWindow(
  sources: AssemblySource[],
  options: AssembleOptions,
): Promise<{ parts: number; copies: number }> {
  const minPart = options.minPart ?? MIN_PART_BYTES;
  const plan = planWindow(sources, minPart);
  if (plan.length === 0) throw new RangeError('a window needs at least one segment');
  if (plan.length > MAX_PARTS) throw new RangeError(`a window holds at most ${MAX_PARTS} parts`);
  const { s3, bucket } = options;
  const scratch: string[] = [];
  let copies = 0;
  const scratchKey = (name: string) => {
    const key = `${options.scratchPrefix}${name}`;
    scratch.push(key);
    return key;
  };
  const copy = async (key: string, parts: Array<{ copySource: string; range?: string }>) => {
    await multipartCopy(s3, bucket, key, parts);
    copies += parts.length;
  };
  try {
    let filler: Promise<string> | undefined;
    const makeFiller = () => {
      filler ??= (async () => {
        const key = scratchKey('filler');
        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(minPart) }),
        );
        return key;
      })();
      return filler;
    };
    const afterFiller = (j: Joined) => `bytes=${minPart}-${j.bytes - 1}`;
    const joinGroup = async (group: AssemblySource[], g: number): Promise<Joined> => {
      const fillerKey = await makeFiller();
      let level = await mapLimit(group, ASSEMBLY_CONCURRENCY, async (source, i) => {
        const key = scratchKey(`g${g}-0-${i}`);
        await copy(key, [
          { copySource: copySourceOf(bucket, fillerKey) },
          { copySource: copySourceOf(bucket, source.key) },
        ]);
        return { key, bytes: minPart + source.bytes };
      });
      for (let depth = 1; level.length > 1; depth++) {
        const pairs: Array<[Joined, Joined | undefined]> = [];
        for (let i = 0; i < level.length; i += 2) pairs.push([level[i]!, level[i + 1]]);
        level = await mapLimit(pairs, ASSEMBLY_CONCURRENCY, async ([a, b], i) => {
          if (!b) return a;
          const key = scratchKey(`g${g}-${depth}-${i}`);
          await copy(key, [
            { copySource: copySourceOf(bucket, a.key) },
            { copySource: copySourceOf(bucket, b.key), range: afterFiller(b) },
          ]);
          return { key, bytes: a.bytes + b.bytes - minPart };
        });
      }
      return level[0]!;
    };
    const partSources = await mapLimit(plan, ASSEMBLY_CONCURRENCY, async (part, index) => {
      if (part.kind === 'whole') return { copySource: copySourceOf(bucket, part.source.key) };
      const joined = await joinGroup(part.sources, index);
      return { copySource: copySourceOf(bucket, joined.key), range: afterFiller(joined) };
    });
    await copy(options.key, partSources);
    return { parts: partSources.length, copies };
  } finally {
    await mapLimit([...scratch], ASSEMBLY_CONCURRENCY, (Key) =>
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => undefined),
    );
  }
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const copySourceOf = (bucket: string, key: string) =>
  `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

async function multipartCopy(
  s3: S3Client,
  bucket: string,
  key: string,
  parts: Array<{ copySource: string; range?: string }>,
): Promise<void> {
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
  );
  try {
    const done: Array<{ PartNumber: number; ETag: string }> = [];
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          CopySource: part.copySource,
          ...(part.range ? { CopySourceRange: part.range } : {}),
        }),
      );
      done.push({ PartNumber: i + 1, ETag: out.CopyPartResult?.ETag ?? '' });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: done },
      }),
    );
  } catch (error) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => undefined);
    if ((error as { name?: string }).name === 'NotImplemented') {
      throw new AssemblyUnavailableError(
        'this S3 store does not implement UploadPartCopy (plain s3rver does not; AWS S3, moto and the local stack do), so windows cannot be assembled here',
        { cause: error },
      );
    }
    throw error;
  }
}
