import { windowManifestSchema } from '../../protocol/evidence/window-manifest.js';
import { CUSTODY_ACTIONS } from '../store/evidence-custody.js';
import {
  agentIdPathParam,
  errorResponse,
  idPathParam,
  jobAcceptedResponse,
  jobAcceptedSchema,
  jobStatusResponses,
  jsonSchema,
  limitParam,
  nextTokenParam,
  pagedErrors,
  pagedList,
  queryParam,
  standardErrors,
} from './openapi-shared.js';

/** OpenAPI for evidence segments (functions/api/routes/segments.ts). */

const epochParam = (name: string, description: string, required = false) => ({
  ...queryParam(name, description, { type: 'number', minimum: 0 }),
  required,
});

const segment = {
  type: 'object',
  required: [
    'segment_id',
    'agent_id',
    'seq',
    'started_at',
    'ended_at',
    'packets',
    'bytes',
    'sha256',
    'cipher',
    'key_id',
    'recorded_at',
    'retained_until',
  ],
  properties: {
    segment_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    agent_id: { type: 'string' },
    seq: { type: 'integer', description: 'Per agent, from 0, one higher per segment recorded' },
    started_at: { type: 'number', description: 'Epoch seconds of the first packet' },
    ended_at: { type: 'number', description: 'Epoch seconds of the last packet' },
    packets: { type: 'integer' },
    bytes: { type: 'integer', description: 'Size of the encrypted object' },
    sha256: { type: 'string', description: 'SHA-256 of the encrypted object, checked on upload' },
    cipher: { enum: ['AES-256-GCM', 'AES-128-GCM', 'ChaCha20-Poly1305'] },
    key_id: { type: 'string', description: 'Which master key opens it (the header key id)' },
    recorded_at: { type: 'string', format: 'date-time' },
    retained_until: {
      type: 'number',
      description: 'Epoch seconds: the record expires then, the object by the bucket lifecycle',
    },
  },
};

const custodyEntry = {
  type: 'object',
  required: ['entry_id', 'at', 'action', 'token_id', 'request_id', 'agent_ids'],
  properties: {
    entry_id: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    action: {
      enum: [...CUSTODY_ACTIONS],
      description: 'A link to one segment, a link to a window, or a window job started',
    },
    token_id: { type: 'string', description: 'First 16 hex digits of SHA-256 over the token' },
    request_id: { type: 'string', description: 'The X-Request-Id of the request' },
    source_ip: { type: 'string' },
    user_agent: { type: 'string' },
    agent_ids: { type: 'array', items: { type: 'string' } },
    segment_id: { type: 'string' },
    window_id: { type: 'string', description: "The manifest's window_id" },
    job_id: { type: 'string' },
    since: { type: 'number' },
    until: { type: 'number' },
    segments: { type: 'integer' },
    bytes: { type: 'integer' },
    sha256: { type: 'string', description: "The segment's SHA-256 (segment links)" },
    link_expires_at: { type: 'string', format: 'date-time' },
  },
};

/** A prepared window's links: the object and its signed manifest, kept beside it. */
const windowLinks = {
  url: { type: 'string', description: 'Presigned GET of the window object' },
  manifest_url: {
    type: 'string',
    description:
      'Presigned GET of {manifest, signature}, kept beside the object (what `pcap decrypt --manifest` reads)',
  },
  expires_at: { type: 'string', format: 'date-time', description: 'When the URLs expire' },
};

export const segmentSchemas = {
  Segment: segment,
  CustodyEntry: custodyEntry,
  WindowJobAccepted: jobAcceptedSchema('job_id', '^win_[0-9a-f]{32}$', 'the window'),
  WindowJob: {
    type: 'object',
    required: ['job_id', 'status', 'agent_ids', 'since', 'until'],
    properties: {
      job_id: { type: 'string' },
      status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
      agent_ids: { type: 'array', items: { type: 'string' } },
      since: { type: 'number' },
      until: { type: 'number' },
      created_at: { type: 'string', format: 'date-time' },
      started_at: { type: 'string', format: 'date-time' },
      finished_at: { type: 'string', format: 'date-time' },
      bytes: { type: 'integer', description: 'Done only: size of the window object' },
      segments: { type: 'integer', description: 'Done only' },
      packets: { type: 'integer', description: 'Done only: packets in its segments' },
      missing_seqs: {
        type: 'integer',
        description:
          'Done only: how many sequence numbers are missing between each agent’s first and last segment (the manifest lists them)',
      },
      // Done, as JSON:
      ...windowLinks,
      error: {
        type: 'object',
        description:
          'Failed only: no_segments, window_too_large (over 10 000 segments), window_assembly_unavailable, store_unavailable, export_interrupted, export_not_started or export_failed',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  WindowManifest: jsonSchema(windowManifestSchema),
  WindowDownload: {
    type: 'object',
    required: ['url', 'manifest_url', 'expires_at', 'bytes', 'segments', 'manifest', 'signature'],
    properties: {
      ...windowLinks,
      bytes: { type: 'integer' },
      segments: { type: 'integer' },
      manifest: { $ref: '#/components/schemas/WindowManifest' },
      signature: {
        type: 'object',
        required: ['alg', 'key_id', 'public_key', 'value'],
        properties: {
          alg: { const: 'Ed25519' },
          key_id: { type: 'string' },
          public_key: { type: 'string', description: 'SPKI DER, base64' },
          value: {
            type: 'string',
            description: 'Ed25519 over the manifest as JSON with sorted keys and no whitespace',
          },
        },
      },
    },
  },
};

const segmentIdPath = idPathParam('Segment id (32 hex digits)', '^[0-9a-f]{32}$');

export const segmentPaths = {
  '/api/v1/agents/{id}/segments': {
    get: {
      summary: "The agent's recorded evidence segments, oldest first (or newest first)",
      description:
        'Segments whose [started_at, ended_at] meets [since, until]. Encrypted at the agent; the cloud holds no key to open them.',
      parameters: [
        agentIdPathParam,
        epochParam('since', 'Only segments ending at or after this (epoch seconds)'),
        epochParam('until', 'Only segments starting at or before this (epoch seconds)'),
        {
          name: 'order',
          in: 'query',
          description: 'asc (default): oldest first; desc: newest first',
          schema: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
        },
        limitParam(1000, 100),
        nextTokenParam,
      ],
      responses: {
        '200': pagedList('Segments', 'segments', { $ref: '#/components/schemas/Segment' }),
        '404': errorResponse("Unknown agent (or another tenant's)"),
        ...pagedErrors,
      },
    },
  },
  '/api/v1/segments/{id}/download': {
    get: {
      summary: 'Redirect to a presigned GET of the encrypted segment',
      description:
        'Decrypt with `wirefleet pcap decrypt --key-file K IN -o OUT`. With Accept: application/json, the URL and the segment facts instead of the redirect.',
      parameters: [segmentIdPath],
      responses: {
        '302': { description: 'Redirect to the presigned URL (expires within 15 minutes)' },
        '200': { description: 'With Accept: application/json: url, expires_at and the segment' },
        '404': errorResponse('segment_not_found: no such segment in this tenant'),
        ...standardErrors,
      },
    },
  },
  '/api/v1/segments/download': {
    get: {
      summary: 'One presigned link for a time window of one or more agents',
      description:
        "The window's segments (agents in the order given, each agent's by seq) are joined into one object in S3 by multipart copy, without the API reading them, and served with a manifest the cloud signs with Ed25519 (pin its key from /evidence/manifest-key). Save the whole answer as JSON and run `wirefleet pcap decrypt --key-file K --manifest window.json [--manifest-key ID] window.wfe -o window.pcap`.",
      parameters: [
        {
          ...queryParam('agent_id', 'Agent id; repeat for several agents (at most 50)', {
            type: 'array',
            items: { type: 'string' },
          }),
          required: true,
          style: 'form',
          explode: true,
        },
        epochParam('since', 'Window start (epoch seconds)', true),
        epochParam('until', 'Window end (epoch seconds)', true),
        {
          name: 'Prefer',
          in: 'header',
          required: false,
          description:
            '`respond-async`: always answer 202 with a window job. Without it, a window over 200 segments or 2 GiB also becomes a job (it may not be assembled inside the API gateway timeout)',
          schema: { type: 'string', examples: ['respond-async'] },
        },
      ],
      responses: {
        '200': {
          description: 'The link and its signed manifest',
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/WindowDownload' } },
          },
        },
        '202': jobAcceptedResponse(
          'A window job (a large window, or Prefer: respond-async); Location and status_url say where to poll',
          'WindowJobAccepted',
        ),
        '404': errorResponse(
          "agent_not_found: an agent unknown (or another tenant's); no_segments: nothing recorded in the window",
        ),
        '413': errorResponse(
          'window_too_large: more than 200 segments or 2 GiB where no job runner is configured; ask for a shorter window',
        ),
        '501': errorResponse(
          'window_assembly_unavailable: the S3 store lacks UploadPartCopy (plain s3rver, without the local stack)',
        ),
        ...standardErrors,
        '503': errorResponse(
          'Store unavailable, or the window job could not be started (export_unavailable)',
        ),
      },
    },
  },
  '/api/v1/segments/windows/{id}': {
    get: {
      summary:
        "A window job's status; once done, a 302 to a fresh presigned GET of the window (or JSON with both links, with Accept: application/json)",
      description:
        'Save the manifest from manifest_url and run `wirefleet pcap decrypt --key-file K --manifest window.json window.wfe -o window.pcap`.',
      parameters: [idPathParam('Window job id', '^win_[0-9a-f]{32}$')],
      responses: jobStatusResponses(
        'WindowJob',
        "window_not_found: unknown, expired (after 24 h) or another tenant's",
      ),
    },
  },
  '/api/v1/evidence/custody': {
    get: {
      summary:
        'The custody log: every link to evidence and every window job handed out, newest first',
      description:
        'Written before the link is handed out (no entry, no link) and kept a year. token_id is the first 16 hex digits of SHA-256 over the bearer token (`printf %s "$TOKEN" | sha256sum | cut -c1-16`); source_ip is API Gateway\'s sourceIp (the socket\'s address locally).',
      parameters: [limitParam(1000, 100), nextTokenParam],
      responses: {
        '200': pagedList('Custody entries', 'entries', {
          $ref: '#/components/schemas/CustodyEntry',
        }),
        ...pagedErrors,
      },
    },
  },
  '/api/v1/evidence/manifest-key': {
    get: {
      summary: 'The Ed25519 public key that signs window manifests, to pin',
      responses: {
        '200': {
          description: 'alg, key_id, public_key (SPKI DER, base64) and pem',
        },
        ...standardErrors,
      },
    },
  },
};
