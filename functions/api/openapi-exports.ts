import {
  errorResponse,
  idPathParam,
  jobAcceptedResponse,
  jobAcceptedSchema,
  jobStatusResponses,
} from './openapi-shared.js';

/** The asynchronous-export parts of the OpenAPI document (merged in openapi.ts). */

export const exportSchemas = {
  ExportAccepted: jobAcceptedSchema('export_id', '^exp_[0-9a-f]{24}$', 'the file'),
  ExportJob: {
    type: 'object',
    required: ['export_id', 'status', 'packets', 'bytes'],
    properties: {
      export_id: { type: 'string' },
      status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
      format: { type: 'string', enum: ['pcap', 'pcapng'] },
      count: { type: 'integer', description: 'How many packets were asked for' },
      packets: { type: 'integer', description: 'Packets written (so far, while running)' },
      bytes: { type: 'integer' },
      created_at: { type: 'string', format: 'date-time' },
      started_at: { type: 'string', format: 'date-time' },
      finished_at: { type: 'string', format: 'date-time' },
      filename: { type: 'string' },
      content_type: { type: 'string' },
      url: { type: 'string', description: 'Done only: a fresh presigned GET URL' },
      expires_at: { type: 'string', format: 'date-time', description: 'When `url` expires' },
      error: {
        type: 'object',
        description:
          'Failed only: no_packets, store_unavailable, export_interrupted, export_not_started or export_failed',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

export const preferHeader = {
  name: 'Prefer',
  in: 'header',
  required: false,
  description:
    '`respond-async`: always answer 202 with an export job. Without it, more than 10 000 matching packets also make a job (a file that large may not finish inside the API gateway timeout)',
  schema: { type: 'string', examples: ['respond-async'] },
};

/** What GET /packets/download/pcap adds to the synchronous answers. */
export const asyncDownloadResponse = {
  '202': jobAcceptedResponse(
    'An export job (large selection, or Prefer: respond-async); Location and status_url say where to poll',
    'ExportAccepted',
  ),
  '503': errorResponse(
    'Store unavailable, or the export could not be started (export_unavailable)',
  ),
};

export const exportPaths = {
  '/api/v1/packets/exports/{id}': {
    get: {
      summary:
        "An export job's status; once done, a 302 to a fresh presigned URL (or JSON with Accept: application/json)",
      parameters: [idPathParam('Export job id', '^exp_[0-9a-f]{24}$')],
      responses: jobStatusResponses(
        'ExportJob',
        "Unknown, expired (after 24 h) or another tenant's export",
      ),
    },
  },
};
