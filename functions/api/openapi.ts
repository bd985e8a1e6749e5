import { z } from 'zod';
import { mappingsSchema } from '../routing/mappings.js';
import {
  commandRequestSchema,
  registerAgentSchema,
  routeRequestSchema,
  visualizeRequestSchema,
} from './schemas.js';

const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const standardErrors = {
  '400': errorResponse('Invalid input'),
  '401': errorResponse('Missing or invalid bearer token'),
  '503': errorResponse('Store unavailable or no route'),
};

const queryParam = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const agentIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Agent id',
  schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
};

const jsonBody = (ref: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

const jsonResponse = (description: string, ref: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

const nullable = (type: string) => ({ type: [type, 'null'] });

/** Response shapes of the agent endpoints (hand-written: they are built, not validated). */
const agentSchemas = {
  MqttCredentials: {
    type: 'object',
    description: 'Shown once, when registered or rotated; only a hash is stored',
    properties: {
      client_id: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      topic_prefix: { type: 'string', examples: ['wirefleet/v1/agents/edge-1'] },
    },
  },
  AgentRegistration: {
    type: 'object',
    properties: {
      agent_id: { type: 'string' },
      tenant: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
      mqtt: { $ref: '#/components/schemas/MqttCredentials' },
    },
  },
  AgentSummary: {
    type: 'object',
    properties: {
      agent_id: { type: 'string' },
      status: { enum: ['online', 'offline', 'never_seen'] },
      created_at: { type: 'string', format: 'date-time' },
      last_seen: { ...nullable('number'), description: 'Epoch seconds of the latest heartbeat' },
      version: nullable('string'),
      backend: nullable('string'),
      capture_running: nullable('boolean'),
    },
  },
  Agent: {
    type: 'object',
    description:
      'Online = the latest heartbeat arrived within 3 heartbeat intervals. Fields from the heartbeat are null before the first one.',
    properties: {
      agent_id: { type: 'string' },
      status: { enum: ['online', 'offline', 'never_seen'] },
      created_at: { type: 'string', format: 'date-time' },
      last_seen: nullable('number'),
      version: nullable('string'),
      uptime_sec: nullable('number'),
      interval_sec: nullable('number'),
      backend: nullable('string'),
      capture: { type: ['object', 'null'] },
      rlocs: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            address: { type: 'string' },
            priority: { type: 'integer' },
            weight: { type: 'integer' },
          },
        },
      },
      eid_prefixes: { type: 'array', items: { type: 'string' } },
      metrics: { type: ['object', 'null'], description: 'The latest metrics message' },
      metrics_at: nullable('number'),
    },
  },
  Flow: {
    type: 'object',
    properties: {
      flow_id: { type: 'string' },
      src_ip: { type: 'string' },
      dst_ip: { type: 'string' },
      src_port: { type: 'integer' },
      dst_port: { type: 'integer' },
      protocol: { type: 'integer' },
      packets: { type: 'integer' },
      bytes: { type: 'integer' },
      bytes_fwd: { type: 'integer' },
      bytes_rev: { type: 'integer' },
      first_seen: { type: 'number', description: 'Epoch seconds' },
      last_seen: { type: 'number', description: 'Epoch seconds' },
      state: { enum: ['ACTIVE', 'CLOSING', 'CLOSED'] },
      duration_sec: { type: 'number' },
      tcp_flags: { type: 'string', examples: ['SYN|ACK|FIN'] },
      agent_id: { type: 'string' },
      record_id: { type: 'string' },
      ip_version: { enum: [4, 6] },
      vlan_id: { type: 'integer' },
      packets_fwd: { type: 'integer' },
      packets_rev: { type: 'integer' },
      end_reason: {
        enum: ['idle', 'active', 'fin_rst', 'end_of_capture', 'evicted', null],
      },
    },
  },
  CommandAccepted: {
    type: 'object',
    properties: {
      command_id: { type: 'string' },
      status: { const: 'pending' },
      agent_id: { type: 'string' },
    },
  },
  Command: {
    type: 'object',
    properties: {
      command_id: { type: 'string' },
      agent_id: { type: 'string' },
      action: { type: 'string' },
      params: { type: 'object' },
      issued_at: { type: 'number' },
      status: { enum: ['pending', 'ok', 'error'] },
      reply: { type: ['object', 'null'], description: "The agent's reply message" },
      replied_at: nullable('number'),
    },
  },
};

const agentNotFound = { '404': errorResponse("Unknown agent (or another tenant's)") };

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
        RegisterAgentRequest: jsonSchema(registerAgentSchema),
        CommandRequest: jsonSchema(commandRequestSchema),
        ...agentSchemas,
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
          summary: 'Newest packets first',
          parameters: [
            queryParam('count', '1-1000, default 10', {
              type: 'integer',
              minimum: 1,
              maximum: 1000,
            }),
          ],
          responses: { '200': { description: 'Packets' }, ...standardErrors },
        },
      },
      '/api/v1/packets/{id}': {
        get: {
          summary: 'One packet with its decoded layers and bytes',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[0-9a-f]{16}$' },
            },
          ],
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
          summary: 'Build a pcap/pcapng of the newest matching packets into S3 and redirect to it',
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
          ],
          responses: downloadResponses,
        },
      },
      '/api/v1/packets/{id}/download/pcap': {
        get: {
          summary: 'Build a one-packet capture file and redirect to it',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            queryParam('format', 'pcap (default) or pcapng', { enum: ['pcap', 'pcapng'] }),
          ],
          responses: downloadResponses,
        },
      },
      '/api/v1/agents': {
        post: {
          summary: 'Register an agent; the answer holds its MQTT password, shown only this once',
          requestBody: jsonBody('RegisterAgentRequest'),
          responses: {
            '201': jsonResponse('Registered', 'AgentRegistration'),
            '409': errorResponse('The agent id is taken (agent_exists)'),
            ...standardErrors,
          },
        },
        get: {
          summary: "The tenant's agents with their online status",
          responses: {
            '200': {
              description: 'Agents',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      agents: {
                        type: 'array',
                        items: { $ref: '#/components/schemas/AgentSummary' },
                      },
                    },
                  },
                },
              },
            },
            ...standardErrors,
          },
        },
      },
      '/api/v1/agents/{id}': {
        get: {
          summary: 'One agent: status, latest heartbeat (RLOCs, EID prefixes) and metrics',
          parameters: [agentIdParam],
          responses: {
            '200': jsonResponse('Agent', 'Agent'),
            ...agentNotFound,
            ...standardErrors,
          },
        },
      },
      '/api/v1/agents/{id}/credentials': {
        post: {
          summary: "Rotate the agent's MQTT password (the old one stops working)",
          parameters: [agentIdParam],
          responses: {
            '200': {
              description: 'The new credentials, shown only this once',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      agent_id: { type: 'string' },
                      tenant: { type: 'string' },
                      mqtt: { $ref: '#/components/schemas/MqttCredentials' },
                    },
                  },
                },
              },
            },
            ...agentNotFound,
            ...standardErrors,
          },
        },
      },
      '/api/v1/agents/{id}/commands': {
        post: {
          summary: 'Send a command to the agent over MQTT; poll the command for its reply',
          parameters: [agentIdParam],
          requestBody: jsonBody('CommandRequest'),
          responses: {
            '202': jsonResponse('Stored and published', 'CommandAccepted'),
            ...agentNotFound,
            ...standardErrors,
            '503': errorResponse(
              'No command channel (command_channel_unavailable) or store unavailable',
            ),
          },
        },
      },
      '/api/v1/agents/{id}/commands/{commandId}': {
        get: {
          summary: 'A command and, once the agent answered, its reply',
          parameters: [
            agentIdParam,
            { name: 'commandId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '200': jsonResponse('Command', 'Command'),
            '404': errorResponse('Unknown agent or command'),
            ...standardErrors,
          },
        },
      },
      '/api/v1/flows': {
        get: {
          summary: "Flow records from the tenant's agents (the newest export of each flow)",
          parameters: [
            queryParam('agent_id', "only this agent's flows (404 if unknown)", {
              type: 'string',
            }),
            queryParam('limit', '1-1000, default 100', {
              type: 'integer',
              minimum: 1,
              maximum: 1000,
            }),
            queryParam('min_packets', 'default 0', { type: 'integer', minimum: 0 }),
            queryParam('sort_by', 'highest first; default packets', {
              enum: ['packets', 'bytes', 'duration'],
            }),
            queryParam('since', 'epoch seconds, on last_seen, inclusive', {
              type: 'number',
              minimum: 0,
            }),
            queryParam('until', 'epoch seconds, on last_seen, inclusive', {
              type: 'number',
              minimum: 0,
            }),
          ],
          responses: {
            '200': {
              description: 'Flows',
              content: {
                'application/json': {
                  schema: { type: 'array', items: { $ref: '#/components/schemas/Flow' } },
                },
              },
            },
            ...agentNotFound,
            ...standardErrors,
          },
        },
      },
    },
  };
}
