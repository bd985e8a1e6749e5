import { tangoPathSchema, tangoPathsSchema } from '../../protocol/tango-paths.js';
import {
  agentIdPathParam,
  errorResponse,
  jsonSchema,
  limitParam,
  nextTokenField,
  nextTokenParam,
  pagedErrors,
  queryParam,
} from './openapi-shared.js';

/** OpenAPI for Tango per-path measurements (functions/api/routes/agent-paths.ts). */

const nullable = (type: string, description?: string) => ({
  type: [type, 'null'],
  ...(description ? { description } : {}),
});

export const pathsSchemas = {
  /** What agents publish on wirefleet/v1/agents/{id}/paths (MQTT), for agent implementers. */
  TangoPathsMessage: {
    ...jsonSchema(tangoPathsSchema),
    description:
      'The MQTT message an agent running a Tango node publishes on wirefleet/v1/agents/{id}/paths (not an HTTP body). Unknown keys are refused.',
  },
  TangoPath: {
    ...jsonSchema(tangoPathSchema),
    description:
      "One path as the agent measured it: path_id 0-7, its IPv6 tunnel addresses, the peer site's IPv4 RLOC it reaches, delay_ms/jitter_ms, loss and reorder as fractions (0.05 is 5 %), packets and throughput_bps over the interval",
  },
  AgentPaths: {
    type: 'object',
    required: ['agent_id', 'paths', 'stale', 'age_s'],
    description:
      "The agent's latest paths message. A report is stale once older than 3 of its intervals (age from its arrival, server clock); routing ignores stale reports. Every field but agent_id and paths is null before the first report.",
    properties: {
      agent_id: { type: 'string' },
      peer: {
        type: ['object', 'null'],
        properties: { agent_id: { type: 'string' }, name: { type: 'string' } },
      },
      sent_at: nullable('number', "Epoch seconds, the agent's clock: end of the measured interval"),
      received_at: nullable('number', 'Epoch seconds when the cloud took it in'),
      interval_s: nullable('number', 'Seconds measured'),
      age_s: nullable('number', 'Seconds since received_at'),
      stale: nullable('boolean', 'age_s over 3 × interval_s'),
      paths: {
        type: 'array',
        items: {
          allOf: [
            { $ref: '#/components/schemas/TangoPath' },
            {
              type: 'object',
              properties: { age_s: { type: 'number' }, stale: { type: 'boolean' } },
            },
          ],
        },
      },
    },
  },
};

export const pathsPaths = {
  '/api/v1/agents/{id}/paths': {
    get: {
      summary:
        "The agent's Tango path measurements: the latest per path with its age and a stale flag, or (history=1) its past reports newest first, page by page",
      description:
        "Agents running Tango nodes publish per-path delay, jitter, loss, reordering and throughput on the MQTT channel `paths` (schema TangoPathsMessage). Routing prefers, among an EID's RLOCs of equal priority, the RLOC whose fresh path suits the workload (lowest delay for fast_response, lowest loss for code_generation and complex_reasoning). limit and next_token apply to history=1 only. Reports are kept 7 days.",
      parameters: [
        agentIdPathParam,
        queryParam('history', '1 or true: past reports, paged', {
          enum: ['0', '1', 'true', 'false'],
        }),
        limitParam(1000, 100),
        nextTokenParam,
      ],
      responses: {
        '200': {
          description: 'The latest report, or with history=1 a page of past reports',
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { $ref: '#/components/schemas/AgentPaths' },
                  {
                    type: 'object',
                    required: ['history', 'next_token'],
                    properties: {
                      history: {
                        type: 'array',
                        items: {
                          type: 'object',
                          description: 'A past paths message (without schema) and agent_id',
                        },
                      },
                      next_token: nextTokenField,
                    },
                  },
                ],
              },
            },
          },
        },
        '404': errorResponse("Unknown agent (or another tenant's)"),
        ...pagedErrors,
      },
    },
  },
};
