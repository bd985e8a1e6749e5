import { mappingsSchema } from '../routing/mappings.js';
import { agentPaths, agentSchemas } from './openapi-agents.js';
import {
  asyncDownloadResponse,
  exportPaths,
  exportSchemas,
  preferHeader,
} from './openapi-exports.js';
import { pathsPaths, pathsSchemas } from './openapi-paths.js';
import { segmentPaths, segmentSchemas } from './openapi-segments.js';
import {
  errorResponse,
  idPathParam,
  jsonSchema,
  limitParam,
  nextTokenField,
  nextTokenParam,
  pagedErrors,
  queryParam,
  standardErrors,
} from './openapi-shared.js';
import { routeRequestSchema, visualizeRequestSchema } from './schemas.js';

const downloadResponses = {
  '302': { description: 'Redirect to a presigned S3 URL (expires within 15 minutes)' },
  '200': {
    description: 'With Accept: application/json, the URL and file facts',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Download' } } },
  },
  '404': errorResponse('No matching packet'),
  ...standardErrors,
};

/** The OpenAPI 3.1 description of /api/v1, request schemas generated from the zod validators. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'wirefleet API',
      version,
      description:
        'LISP routing decisions for AI workloads, recorded as real LISP-encapsulated packets and served as PCAP files through presigned S3 URLs.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
        RouteRequest: jsonSchema(routeRequestSchema),
        Mappings: jsonSchema(mappingsSchema),
        VisualizeRequest: jsonSchema(visualizeRequestSchema),
        ...agentSchemas,
        ...exportSchemas,
        ...segmentSchemas,
        ...pathsSchemas,
        Download: {
          type: 'object',
          properties: {
            url: { type: 'string' },
            expires_at: { type: 'string', format: 'date-time' },
            key: { type: 'string' },
            filename: { type: 'string' },
            content_type: { type: 'string' },
            packets: { type: 'integer' },
            bytes: { type: 'integer' },
          },
        },
      },
    },
    paths: {
      '/api/v1/health': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'OK' } } },
      },
      '/api/v1/route': {
        post: {
          summary:
            'Route a query: classify, choose model and RLOC, build and store the LISP packet',
          description:
            "EID prefixes announced in agents' heartbeats are site registrations: they are withdrawn after a hold time of 3 announced heartbeat intervals (at least 30 s, at most 600 s) without a heartbeat. A map-cache entry whose every locator is down does not shadow a less specific entry (priority 255 and empty locator sets do). `reasons` names each prefix passed over or withdrawn and the entry used instead.",
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/RouteRequest' } },
            },
          },
          responses: {
            '200': {
              description: 'The decision and the packet (selected_model, endpoint, lisp_packet)',
            },
            '413': errorResponse('Body over 64 KiB'),
            ...standardErrors,
          },
        },
      },
      '/api/v1/mappings': {
        get: {
          summary: "The tenant's catalogue and EID-to-RLOC mappings",
          responses: { '200': { description: 'Mappings' }, ...standardErrors },
        },
        put: {
          summary: 'Replace the mappings (validated)',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Mappings' } } },
          },
          responses: { '200': { description: 'Stored mappings' }, ...standardErrors },
        },
      },
      '/api/v1/packets/stats': {
        get: {
          summary: 'Packet counters',
          responses: { '200': { description: 'Stats' }, ...standardErrors },
        },
      },
      '/api/v1/packets/recent': {
        get: {
          summary: 'Newest packets first, page by page',
          description:
            'Pages in store order (newest first). Packets routed after the first page sort before the position and are not in later pages: start again to see them. With model or workload_type a page reads at most 5000 packets, so it may be short (even empty) and still carry a next_token; a next_token is bound to the filters it was issued with.',
          parameters: [
            queryParam('count', 'The seed name of limit: 1-1000, default 10', {
              type: 'integer',
              minimum: 1,
              maximum: 1000,
            }),
            limitParam(1000, 10),
            nextTokenParam,
            queryParam('model', 'only packets routed to this model', { type: 'string' }),
            queryParam('workload_type', 'only this workload type', { type: 'string' }),
            queryParam('since', 'ISO 8601 or epoch seconds (inclusive)', { type: 'string' }),
            queryParam('until', 'ISO 8601 or epoch seconds (inclusive)', { type: 'string' }),
          ],
          responses: {
            '200': {
              description: 'Packets',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      status: { const: 'success' },
                      count: { type: 'integer', description: 'Packets in this page' },
                      packets: { type: 'array', items: { type: 'object' } },
                      next_token: nextTokenField,
                    },
                  },
                },
              },
            },
            ...pagedErrors,
          },
        },
      },
      '/api/v1/packets/{id}': {
        get: {
          summary: 'One packet with its decoded layers and bytes',
          parameters: [idPathParam('Packet id', '^[0-9a-f]{16}$')],
          responses: {
            '200': { description: 'Packet' },
            '404': errorResponse('Unknown packet'),
            ...standardErrors,
          },
        },
      },
      '/api/v1/packets/visualize': {
        post: {
          summary:
            'ASCII picture of a packet (the newest when packet_id is omitted); text/plain on request',
          requestBody: {
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/VisualizeRequest' } },
            },
          },
          responses: {
            '200': { description: 'Visualization' },
            '404': errorResponse('No packet'),
            ...standardErrors,
          },
        },
      },
      '/api/v1/packets/download/pcap': {
        get: {
          summary:
            'Build a pcap/pcapng of the newest matching packets into S3 and redirect to it; large selections (or Prefer: respond-async) become an export job (202)',
          parameters: [
            queryParam('count', '1-100000, default 10', {
              type: 'integer',
              minimum: 1,
              maximum: 100000,
            }),
            queryParam('format', 'pcap (default) or pcapng (with per-packet comments)', {
              enum: ['pcap', 'pcapng'],
            }),
            queryParam('model', 'only packets routed to this model', { type: 'string' }),
            queryParam('workload_type', 'only this workload type', { type: 'string' }),
            queryParam('since', 'ISO 8601 or epoch seconds', { type: 'string' }),
            queryParam('until', 'ISO 8601 or epoch seconds', { type: 'string' }),
            preferHeader,
          ],
          responses: { ...downloadResponses, ...asyncDownloadResponse },
        },
      },
      ...exportPaths,
      '/api/v1/packets/{id}/download/pcap': {
        get: {
          summary: 'Build a one-packet capture file and redirect to it',
          parameters: [
            idPathParam('Packet id', '^[0-9a-f]{16}$'),
            queryParam('format', 'pcap (default) or pcapng', { enum: ['pcap', 'pcapng'] }),
          ],
          responses: downloadResponses,
        },
      },
      ...agentPaths,
      ...segmentPaths,
      ...pathsPaths,
    },
  };
}
