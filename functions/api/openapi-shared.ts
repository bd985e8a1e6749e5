import { z } from 'zod';

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
