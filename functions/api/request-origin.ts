import type { Context } from 'hono';

/**
 * Where a request came from, as the runtime saw it: API Gateway's sourceIp in Lambda, the
 * socket's address in Node. Not X-Forwarded-For, which the client writes.
 */
export function requestOrigin(c: Context): { source_ip?: string; user_agent?: string } {
  const env = c.env as
    | {
        requestContext?: { http?: { sourceIp?: string } };
        incoming?: { socket?: { remoteAddress?: string } };
      }
    | undefined;
  const ip = env?.requestContext?.http?.sourceIp ?? env?.incoming?.socket?.remoteAddress;
  const agent = c.req.header('user-agent');
  return {
    ...(ip ? { source_ip: ip } : {}),
    ...(agent ? { user_agent: agent.slice(0, 256) } : {}),
  };
}
