import type { Context } from 'hono';
import type { z } from 'zod';
import { describeIssues, RequestError } from './errors.js';

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/**
 * A JSON body validated with `schema`. An empty body means `{}` (so `curl -X POST .../stop`
 * works); anything else must be declared JSON (415 otherwise) and parse.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  const type = c.req.header('content-type');
  if (text.trim() === '' && (!type || JSON_TYPE.test(type))) return parseWith(schema, {});
  if (!type || !JSON_TYPE.test(type)) {
    throw new RequestError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  return parseWith(schema, body);
}

/** Query parameters; an empty value (`limit=`) means the parameter is absent. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const present = Object.entries(c.req.query()).filter(([, value]) => value !== '');
  return parseWith(schema, Object.fromEntries(present));
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new RequestError(400, 'invalid_request', describeIssues(result.error));
  return result.data;
}
