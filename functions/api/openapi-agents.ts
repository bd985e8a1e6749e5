import {
  agentIdPathParam,
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
import { commandRequestSchema, registerAgentSchema, rotateCredentialsSchema } from './schemas.js';

/** The agent, command and flow parts of the OpenAPI document (merged in openapi.ts). */

const nullable = (type: string) => ({ type: [type, 'null'] });

/**
 * Schemas of the agent endpoints: requests generated from the zod validators,
 * responses hand-written (they are built, not validated).
 */
export const agentSchemas = {
  RegisterAgentRequest: jsonSchema(registerAgentSchema),
  RotateCredentialsRequest: jsonSchema(rotateCredentialsSchema),
  CommandRequest: jsonSchema(commandRequestSchema),
  MqttEndpoint: {
    type: 'object',
    description:
      'Where a certificate agent connects: mqtts://, its client certificate is the login',
    properties: {
      url: {
        type: 'string',
        examples: ['mqtts://abc123-ats.iot.eu-west-1.amazonaws.com:8883', 'mqtts://127.0.0.1:8883'],
      },
      client_id: {
        type: 'string',
        description:
          'The MQTT client id the broker demands: the IoT thing name (wirefleet-<agent id>) in AWS, the agent id locally',
      },
      topic_prefix: { type: 'string', examples: ['wirefleet/v1/agents/edge-1'] },
    },
  },
  AgentCertificate: {
    type: 'object',
    description:
      "The agent's X.509 client certificate, signed from its CSR (CN = agent id, clientAuth). The private key stayed on the agent.",
    properties: {
      certificate_pem: { type: 'string' },
      ca_pem: {
        type: 'string',
        description:
          'CA bundle the agent verifies its broker with: Amazon Root CA 1 and 3 in AWS, the local CA locally',
      },
      certificate_id: {
        type: 'string',
        description: 'SHA-256 of the certificate (64 hex; the AWS IoT certificate id)',
      },
      not_after: { type: 'string', format: 'date-time' },
    },
  },
  CertificateRegistration: {
    type: 'object',
    properties: {
      agent_id: { type: 'string' },
      tenant: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
      mqtt: { $ref: '#/components/schemas/MqttEndpoint' },
      certificate: { $ref: '#/components/schemas/AgentCertificate' },
    },
  },
  AgentCredentials: {
    type: 'object',
    description: "The agent's current credential (never the secret itself)",
    properties: {
      login: {
        enum: ['certificate', 'password', 'none'],
        description: "How the agent can connect now; 'none' once revoked",
      },
      certificate: {
        type: ['object', 'null'],
        properties: {
          certificate_id: { type: 'string' },
          status: { enum: ['ACTIVE', 'INACTIVE'] },
          issued_at: { type: 'string', format: 'date-time' },
          not_after: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
  },
  MqttCredentials: {
    type: 'object',
    description:
      'Password login (brokers without TLS; not AWS IoT). Shown once, when registered or rotated; only a hash is stored',
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
  PasswordRegistration: {
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
      credentials: { $ref: '#/components/schemas/AgentCredentials' },
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

const credentialErrors = {
  '400': errorResponse(
    'Invalid input; invalid_csr: the CSR does not parse, its signature does not verify, or its key is not EC P-256/P-384 or RSA ≥ 2048 (max 16 KiB); csr_required: a certificate agent, or a deployment that takes certificates only',
  ),
  '503': errorResponse(
    'identity_unavailable: the certificate authority (AWS IoT, or none configured) failed; nothing usable was left behind unless the message says so. Or store_unavailable',
  ),
};

/** /api/v1/agents/..., /api/v1/flows. */
export const agentPaths = {
  '/api/v1/agents': {
    post: {
      summary: 'Register an agent: a certificate for its CSR, or (without a csr) a password',
      description:
        'With `csr` (recommended, and the only way in AWS): the agent made its private key itself and sends only a PKCS#10 CSR; the answer holds the signed certificate, the CA bundle, the mqtts:// URL and the client id. In AWS this creates the IoT thing `<IOT_THING_PREFIX><agent_id>`, a certificate with CreateCertificateFromCsr, and attaches the agent policy and the thing. Without `csr`: a password for brokers without TLS, shown only this once. Answers carry Cache-Control: no-store.',
      requestBody: jsonBody('RegisterAgentRequest'),
      responses: {
        '201': {
          description: 'Registered',
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { $ref: '#/components/schemas/CertificateRegistration' },
                  { $ref: '#/components/schemas/PasswordRegistration' },
                ],
              },
            },
          },
        },
        '409': errorResponse(
          'The agent id is taken (agent_exists), or its IoT thing belongs to something else (identity_conflict)',
        ),
        ...standardErrors,
        ...credentialErrors,
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
      parameters: [agentIdPathParam],
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
      parameters: [agentIdPathParam, limitParam(1000, 100), nextTokenParam],
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
      parameters: [agentIdPathParam, limitParam(1000, 100), nextTokenParam],
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
        "Rotate the agent's credential: a new certificate for a new CSR (the old certificate is deactivated once the new one is in place), or a new password",
      description:
        'A certificate agent must send a `csr` for a new key. The replaced certificates are listed with whether they were deactivated (false: it may still connect; rotate again or revoke). Password agents send no body and get a new password, shown only this once; a connection already open stays until it reconnects.',
      parameters: [agentIdPathParam],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: { $ref: '#/components/schemas/RotateCredentialsRequest' },
          },
        },
      },
      responses: {
        '200': {
          description: 'The new credential',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  agent_id: { type: 'string' },
                  tenant: { type: 'string' },
                  mqtt: {
                    oneOf: [
                      { $ref: '#/components/schemas/MqttEndpoint' },
                      { $ref: '#/components/schemas/MqttCredentials' },
                    ],
                  },
                  certificate: { $ref: '#/components/schemas/AgentCertificate' },
                  replaced_certificates: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        certificate_id: { type: 'string' },
                        deactivated: { type: 'boolean' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        ...agentNotFound,
        ...standardErrors,
        ...credentialErrors,
      },
    },
  },
  '/api/v1/agents/{id}/revoke': {
    post: {
      summary:
        'Revoke the agent: its certificate is deactivated (AWS IoT: UpdateCertificate INACTIVE) and its password removed, so it can no longer connect',
      description:
        'The local broker refuses the next connection at once and drops open ones; AWS IoT disconnects open connections within minutes. Idempotent. To let the agent back in, rotate its credentials with a new CSR.',
      parameters: [agentIdPathParam],
      responses: {
        '200': {
          description: 'Revoked',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  agent_id: { type: 'string' },
                  tenant: { type: 'string' },
                  revoked_certificates: { type: 'array', items: { type: 'string' } },
                  password_removed: { type: 'boolean' },
                  credentials: { $ref: '#/components/schemas/AgentCredentials' },
                },
              },
            },
          },
        },
        ...agentNotFound,
        ...standardErrors,
        ...credentialErrors,
      },
    },
  },
  '/api/v1/agents/{id}/commands': {
    post: {
      summary: 'Send a command to the agent over MQTT; poll the command for its reply',
      parameters: [agentIdPathParam],
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
      parameters: [agentIdPathParam, limitParam(1000, 100), nextTokenParam],
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
        agentIdPathParam,
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
