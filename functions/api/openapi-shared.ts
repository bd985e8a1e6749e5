import * as z from 'zod';

/** Building blocks shared by the parts of the OpenAPI document. */

/** A zod validator as the JSON Schema of what a client may send. */
export const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

export const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

export const standardErrors = {
  '400': errorResponse('Invalid input'),
  '401': errorResponse('Missing or invalid bearer token'),
  '503': errorResponse('Store unavailable or no route'),
};

export const queryParam = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

export const jsonBody = (ref: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

export const jsonResponse = (description: string, ref: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** Paging, the same on every list: `limit`, then `next_token` from the previous page. */
export const nextTokenParam = queryParam(
  'next_token',
  'Opaque token from the previous page (next_token, or the X-Wirefleet-Next-Token header of /flows). Valid for 24 hours, only for the tenant and the query (every parameter but limit) it came from; anything else is 400 invalid_next_token.',
  { type: 'string' },
);

export const limitParam = (max: number, fallback: number) =>
  queryParam('limit', `Page size, 1-${max}, default ${fallback}`, {
    type: 'integer',
    minimum: 1,
    maximum: max,
    default: fallback,
  });

export const nextTokenField = {
  type: ['string', 'null'],
  description:
    'Pass it back as the next_token query parameter for the next page; null on the last page. A page may be short (even empty) and still have one.',
};

export const pagedErrors = {
  ...standardErrors,
  '400': errorResponse(
    'Invalid input (invalid_request), or a next_token that is malformed, altered, expired, or from another tenant or query (invalid_next_token)',
  ),
};

/** A JSON object holding one array of items and next_token. */
export const pagedList = (description: string, key: string, items: Record<string, unknown>) => ({
  description,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: [key, 'next_token'],
        properties: { [key]: { type: 'array', items }, next_token: nextTokenField },
      },
    },
  },
});

/** The `{id}` in a path: a required string, with the pattern ids of that kind match. */
export const idPathParam = (description: string, pattern?: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', ...(pattern ? { pattern } : {}) },
});

/** Agent ids as the registry accepts them. */
export const agentIdPathParam = idPathParam('Agent id', '^[a-z0-9][a-z0-9-]{0,62}$');

/** A job's 202 body: its id (under `idField`), `queued`, and where to poll. */
export const jobAcceptedSchema = (idField: string, pattern: string, whenDone: string) => ({
  type: 'object',
  required: [idField, 'status', 'status_url'],
  properties: {
    [idField]: { type: 'string', pattern },
    status: { type: 'string', enum: ['queued'] },
    status_url: {
      type: 'string',
      description: `GET it (with the token) for the status; once done it redirects to ${whenDone}`,
    },
  },
});

/** The 202 a download answers when it becomes a job (`ref` names the body's schema). */
export const jobAcceptedResponse = (description: string, ref: string) => ({
  description,
  headers: {
    Location: { schema: { type: 'string' }, description: 'The status URL' },
    'Retry-After': { schema: { type: 'integer' }, description: 'Seconds between polls' },
  },
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** What a job's status URL answers (`ref` names the job's schema). */
export const jobStatusResponses = (ref: string, notFound: string) => ({
  '302': { description: 'Done: redirect to a presigned S3 URL (expires within 15 minutes)' },
  '200': jsonResponse(
    'Queued, running (Retry-After), failed (with error), or done with Accept: application/json',
    ref,
  ),
  '404': errorResponse(notFound),
  ...standardErrors,
});
