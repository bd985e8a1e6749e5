import {
  errorResponse,
  jsonBody,
  jsonResponse,
  jsonSchema,
  limitParam,
  nextTokenParam,
  pagedErrors,
  pagedList,
  queryParam,
  standardErrors,
} from './openapi-shared.js';
import { commandRequestSchema, registerAgentSchema } from './schemas.js';

/** The agent, command and flow parts of the OpenAPI document (merged in openapi.ts). */

const agentIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Agent id',
  schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
};

const nullable = (type: string) => ({ type: [type, 'null'] });

/**
 * Schemas of the agent endpoints: requests generated from the zod validators,
 * responses hand-written (they are built, not validated).
 */
export const agentSchemas = {
  RegisterAgentRequest: jsonSchema(registerAgentSchema),
  CommandRequest: jsonSchema(commandRequestSchema),
  MqttCredentials: {
    type: 'object',
    description: 'Shown once, when registered or rotated; only a hash is stored',
    properties: {
      url: {
        type: 'string',
        description: 'The broker agents connect to, when the API knows it (MQTT_PUBLIC_URL)',
        examples: ['mqtt://127.0.0.1:1883'],
      },
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
      status: { enum: ['pending', 'ok', 'error', 'expired'] },
      reply: { type: ['object', 'null'], description: "The agent's reply message" },
      replied_at: nullable('number'),
    },
  },
};

const agentNotFound = { '404': errorResponse("Unknown agent (or another tenant's)") };

/** /api/v1/agents/..., /api/v1/flows. */
export const agentPaths = {
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
      summary: "The tenant's agents with their online status, by id, page by page",
      parameters: [limitParam(1000, 1000), nextTokenParam],
      responses: {
        '200': pagedList('Agents', 'agents', { $ref: '#/components/schemas/AgentSummary' }),
        ...pagedErrors,
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
  '/api/v1/agents/{id}/events': {
    get: {
      summary:
        "The agent's events (capture started/failed, drop rate high, spool overflow...), newest first",
      parameters: [agentIdParam, limitParam(1000, 100), nextTokenParam],
      responses: {
        '200': pagedList('Events, kept 30 days', 'events', { type: 'object' }),
        ...agentNotFound,
        ...pagedErrors,
      },
    },
  },
  '/api/v1/agents/{id}/metrics': {
    get: {
      summary:
        "The agent's metrics samples (capture counters, drop rate, spool depth), newest first",
      parameters: [agentIdParam, limitParam(1000, 100), nextTokenParam],
      responses: {
        '200': pagedList('Metrics samples, kept 7 days', 'metrics', { type: 'object' }),
        ...agentNotFound,
        ...pagedErrors,
      },
    },
  },
  '/api/v1/agents/{id}/credentials': {
    post: {
      summary:
        "Rotate the agent's MQTT password (new connections need it; a connection already open stays until it reconnects)",
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
    get: {
      summary: "The agent's commands with their replies, newest first, page by page",
      parameters: [agentIdParam, limitParam(1000, 100), nextTokenParam],
      responses: {
        '200': pagedList('Commands, kept 30 days', 'commands', {
          $ref: '#/components/schemas/Command',
        }),
        ...agentNotFound,
        ...pagedErrors,
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
      summary: "Flow records from the tenant's agents: a ranking, or every record page by page",
      description:
        "sort_by=packets|bytes|duration ranks the newest export of each flow among the newest 20 000 records of the window (X-Wirefleet-Truncated says when the window held more) and returns the top `limit`: a ranking is not paged, and a next_token with it is 400. sort_by=time returns every stored record (each export of a long flow counts) newest last_seen first, and pages through the whole window: the next page's token is in the X-Wirefleet-Next-Token header (the body stays the seed's array), absent on the last page. Records stored while you page appear only if their last_seen sorts after your position; none appears twice.",
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
        queryParam(
          'sort_by',
          'highest first (a ranking); time: newest first, paged. Default packets',
          {
            enum: ['packets', 'bytes', 'duration', 'time'],
          },
        ),
        nextTokenParam,
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
          headers: {
            'X-Wirefleet-Truncated': {
              description:
                'true when the window held more than 20 000 records: only the newest were sorted',
              schema: { type: 'string', enum: ['true'] },
            },
            'X-Wirefleet-Next-Token': {
              description:
                'sort_by=time only: pass it back as next_token for the next page; absent on the last page',
              schema: { type: 'string' },
            },
          },
          content: {
            'application/json': {
              schema: { type: 'array', items: { $ref: '#/components/schemas/Flow' } },
            },
          },
        },
        ...agentNotFound,
        ...pagedErrors,
      },
    },
  },
};
