import type { Context } from 'hono';
import type { z } from 'zod';
import { describeIssues } from '../routing/mappings.js';
import { ApiError, ValidationError } from './errors.js';

/** Parses a JSON body (any JSON content type, or none) and validates it. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header('content-type');
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const text = await c.req.text();
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new ValidationError('the request body is not valid JSON', 'invalid_json');
  }
  return parseWith(schema, body);
}

/** Query parameters; an empty value (`model=`) means the parameter is absent. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const present = Object.entries(c.req.query()).filter(([, value]) => value !== '');
  return parseWith(schema, Object.fromEntries(present));
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(describeIssues(result.error));
  return result.data;
}
