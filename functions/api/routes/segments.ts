import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type Context, Hono } from 'hono';
import * as z from 'zod';
import { agentIdSchema } from '../../../protocol/agent-messages.js';
import { SEGMENT_ID_PATTERN } from '../../../protocol/evidence/upload-messages.js';
import { ManifestSigner } from '../../evidence/manifest-signer.js';
import { AssemblyUnavailableError } from '../../evidence/window-assembly.js';
import {
  buildWindowDownload,
  EmptyWindowError,
  presignWindow,
  type WindowRequest,
  WindowTooLargeError,
} from '../../evidence/window-download.js';
import {
  newWindowJobId,
  WINDOW_JOB_ID_PATTERN,
  windowJobObjects,
} from '../../evidence/window-job.js';
import type { NewCustodyEntry } from '../../store/evidence-custody.js';
import { isWindowJob } from '../../store/export-jobs.js';
import { pageAfter } from '../../store/query.js';
import { SEGMENT_LIST_MAX_LIMIT, type SegmentRecord } from '../../store/segments.js';
import type { AppDeps, AppEnv } from '../env.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import { pageTokensFor } from '../paging.js';
import { requestOrigin } from '../request-origin.js';
import { parseWith, readQuery } from '../validate.js';
import { findTenantAgent } from './agent-credentials.js';
import { findJob, jobTimes, prefersAsync, startJob, wantsJson } from './packet-exports.js';

const epochSeconds = z.coerce
  .number({ message: 'must be epoch seconds' })
  .finite('must be epoch seconds')
  .min(0, 'must be epoch seconds (not negative)');

const sinceBeforeUntil = {
  message: 'since must not be after until',
  path: ['since'],
};

export const segmentsQuerySchema = z
  .strictObject({
    since: epochSeconds.optional(),
    until: epochSeconds.optional(),
    limit: z.coerce
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be at least 1')
      .max(SEGMENT_LIST_MAX_LIMIT, `must be at most ${SEGMENT_LIST_MAX_LIMIT}`)
      .default(100),
    /** Newest first for an investigator's "what happened last"; oldest first by default. */
    order: z.enum(['asc', 'desc'], { message: 'must be asc or desc' }).default('asc'),
    next_token: z.string().optional(),
  })
  .refine(
    (q) => q.since === undefined || q.until === undefined || q.since <= q.until,
    sinceBeforeUntil,
  );

export const custodyQuerySchema = z.strictObject({
  limit: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(100),
  next_token: z.string().optional(),
});

/** A window is bounded on both sides: an unbounded one would be every segment kept. */
export const windowQuerySchema = z
  .strictObject({
    agent_id: z.array(agentIdSchema).min(1, 'name at least one agent_id').max(50),
    since: epochSeconds,
    until: epochSeconds,
  })
  .refine((q) => q.since <= q.until, sinceBeforeUntil);

/** A recorded segment as the API shows it (the object key stays internal). */
export function segmentView(s: SegmentRecord) {
  return {
    segment_id: s.segment_id,
    agent_id: s.agent_id,
    seq: s.seq,
    started_at: s.started_at,
    ended_at: s.ended_at,
    packets: s.packets,
    bytes: s.bytes,
    sha256: s.sha256,
    cipher: s.cipher,
    key_id: s.key_id,
    recorded_at: s.recorded_at,
    // When the record and (by the bucket lifecycle) the object expire, epoch seconds.
    retained_until: s.expires_at,
  };
}

/**
 * Evidence segments: an agent's list, one segment's encrypted object, a time window of one or
 * more agents as one object (assembled in S3) with its signed manifest, the manifest key, and
 * the custody log of every link handed out.
 */
export function segmentRoutes(deps: AppDeps) {
  const pageTokens = pageTokensFor(deps);
  const signer = new ManifestSigner(deps.manifestKey);
  const nowMs = () => deps.now?.() ?? Date.now();

  const presignGet = (key: string, filename: string) =>
    getSignedUrl(
      deps.s3,
      new GetObjectCommand({
        Bucket: deps.pcapBucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${filename}"`,
        ResponseContentType: 'application/octet-stream',
      }),
      { expiresIn: deps.urlTtlSeconds, signingDate: new Date(nowMs()) },
    );

  /** Records who is being handed access to which evidence; no record, no link. */
  const recordCustody = (
    c: Context<AppEnv>,
    entry: Omit<NewCustodyEntry, 'token_id' | 'request_id' | 'source_ip' | 'user_agent'>,
  ) =>
    deps.custody.record(
      c.get('tenant').name,
      {
        ...entry,
        token_id: c.get('tokenId'),
        request_id: c.get('requestId'),
        ...requestOrigin(c),
      },
      nowMs(),
    );

  /** A window too large for one request (or asked for as a job): 202 with where to ask. */
  const startWindowJob = async (
    c: Context<AppEnv>,
    request: WindowRequest,
    known: 'not_empty' | 'unknown',
  ) => {
    const tenant = c.get('tenant').name;
    // An empty window is a 404 now, not a job that fails (one over the limit is not empty).
    let any = known === 'not_empty';
    for (const agentId of request.agentIds) {
      if (any) break;
      any = (await deps.segments.window(tenant, agentId, request, 1)).segments.length > 0;
    }
    if (!any) {
      throw new NotFoundError(
        'no recorded segment of these agents meets this window',
        'no_segments',
      );
    }
    // The key exists before any job: workers only read it (they have no write grant there).
    await signer.publicKey();
    const jobId = newWindowJobId();
    const statusUrl = await startJob(c, deps, deps.pcapExports!, {
      id: jobId,
      request: { kind: 'window', ...request },
      statusPath: `/segments/windows/${jobId}`,
    });
    await recordCustody(c, {
      action: 'window_job',
      job_id: jobId,
      agent_ids: request.agentIds,
      since: request.since,
      until: request.until,
    });
    return c.json({ job_id: jobId, status: 'queued', status_url: statusUrl }, 202);
  };

  return new Hono<AppEnv>()
    .get('/agents/:id/segments', async (c) => {
      const agent = await findTenantAgent(deps, c);
      const { limit, next_token, ...window } = readQuery(c, segmentsQuerySchema);
      const tenant = c.get('tenant').name;
      const cursor = await pageTokens.cursor(
        tenant,
        `agents/${agent.agentId}/segments`,
        window,
        next_token,
      );
      const page = await deps.segments.page(tenant, agent.agentId, {
        ...window,
        limit,
        ...pageAfter(cursor.after),
      });
      return c.json({
        segments: page.segments.map(segmentView),
        next_token: await cursor.tokenFor(page.next),
      });
    })
    .get('/segments/download', async (c) => {
      const query = parseWith(windowQuerySchema, {
        ...Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== '')),
        agent_id: (c.req.queries('agent_id') ?? []).filter((v) => v !== ''),
      });
      const tenant = c.get('tenant').name;
      const agentIds = [...new Set(query.agent_id)];
      for (const id of agentIds) {
        // Another tenant's agent is as unknown here as on /agents/{id}.
        if (!(await deps.agents.getForTenant(tenant, id))) {
          throw new NotFoundError(`no agent "${id}"`, 'agent_not_found');
        }
      }
      const request = { agentIds, since: query.since, until: query.until };
      const jobs = deps.pcapExports;
      if (jobs && prefersAsync(c)) return startWindowJob(c, request, 'unknown');
      try {
        const window = await buildWindowDownload(
          {
            segments: deps.segments,
            signer,
            s3: deps.s3,
            bucket: deps.pcapBucket,
            urlTtlSeconds: deps.urlTtlSeconds,
            now: nowMs,
          },
          tenant,
          request,
          deps.windowRequestLimits,
        );
        await recordCustody(c, {
          action: 'window_link',
          window_id: window.signed.manifest.window_id,
          agent_ids: agentIds,
          since: query.since,
          until: query.until,
          segments: window.segments,
          bytes: window.bytes,
          link_expires_at: window.expires_at,
        });
        c.header('Cache-Control', 'no-store');
        return c.json({
          url: window.url,
          manifest_url: window.manifest_url,
          expires_at: window.expires_at,
          bytes: window.bytes,
          segments: window.segments,
          manifest: window.signed.manifest,
          signature: window.signed.signature,
        });
      } catch (error) {
        if (error instanceof EmptyWindowError)
          throw new NotFoundError(error.message, 'no_segments');
        if (error instanceof WindowTooLargeError) {
          // Nothing was copied yet: the window becomes a job where jobs can run.
          if (jobs) return startWindowJob(c, request, 'not_empty');
          throw new ApiError(413, 'window_too_large', error.message);
        }
        if (error instanceof AssemblyUnavailableError) {
          throw new ApiError(501, 'window_assembly_unavailable', error.message);
        }
        throw error;
      }
    })
    .get('/segments/windows/:id', async (c) => {
      const id = c.req.param('id');
      const job = await findJob(c, deps, id, {
        pattern: WINDOW_JOB_ID_PATTERN,
        notFound: 'window_not_found',
        noun: 'window job',
      });
      const request = job.request;
      if (!isWindowJob(request)) throw new NotFoundError('no such window job', 'window_not_found');
      const body = {
        job_id: job.exportId,
        ...jobTimes(job),
        agent_ids: request.agentIds,
        since: request.since,
        until: request.until,
        ...(job.status === 'done' ? { bytes: job.bytes, packets: job.packets, ...job.window } : {}),
        ...(job.error ? { error: job.error } : {}),
      };
      if (job.status !== 'done') return c.json(body);
      const objects = windowJobObjects(c.get('tenant').name, id);
      const links = await presignWindow(
        { s3: deps.s3, bucket: deps.pcapBucket, urlTtlSeconds: deps.urlTtlSeconds },
        objects,
        nowMs(),
      );
      await recordCustody(c, {
        action: 'window_link',
        window_id: objects.windowId,
        job_id: job.exportId,
        agent_ids: request.agentIds,
        since: request.since,
        until: request.until,
        ...(job.window ? { segments: job.window.segments } : {}),
        bytes: job.bytes,
        link_expires_at: links.expires_at,
      });
      if (wantsJson(c)) return c.json({ ...body, ...links });
      return c.redirect(links.url, 302);
    })
    .get('/segments/:id/download', async (c) => {
      const id = c.req.param('id');
      if (!SEGMENT_ID_PATTERN.test(id)) {
        throw new ValidationError('a segment id is 32 lower-case hex digits');
      }
      const segment = await deps.segments.getRecorded(c.get('tenant').name, id);
      if (!segment) throw new NotFoundError(`no segment "${id}"`, 'segment_not_found');
      const url = await presignGet(segment.object_key, `segment-${id}.wfe`);
      const expiresAt = new Date(nowMs() + deps.urlTtlSeconds * 1000).toISOString();
      await recordCustody(c, {
        action: 'segment_link',
        segment_id: segment.segment_id,
        agent_ids: [segment.agent_id],
        sha256: segment.sha256,
        bytes: segment.bytes,
        link_expires_at: expiresAt,
      });
      c.header('Cache-Control', 'no-store');
      if (wantsJson(c)) return c.json({ url, expires_at: expiresAt, ...segmentView(segment) });
      return c.redirect(url, 302);
    })
    .get('/evidence/manifest-key', async (c) => c.json(await signer.publicKey()))
    .get('/evidence/custody', async (c) => {
      const { limit, next_token } = readQuery(c, custodyQuerySchema);
      const tenant = c.get('tenant').name;
      const cursor = await pageTokens.cursor(tenant, 'evidence/custody', {}, next_token);
      const page = await deps.custody.page(tenant, { limit, ...pageAfter(cursor.after) });
      return c.json({ entries: page.entries, next_token: await cursor.tokenFor(page.next) });
    });
}
