import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** @hono/node-server passes the Node request as `c.env.incoming`; app.request() passes nothing. */
export interface ControlEnv {
  Bindings: { incoming?: IncomingMessage };
}

export function remoteAddress(c: Context<ControlEnv>): string | undefined {
  return c.env?.incoming?.socket?.remoteAddress ?? undefined;
}

/** Who the audit trail names for a control API request. */
export function actorOf(c: Context<ControlEnv>): string {
  const remote = remoteAddress(c);
  return remote ? `control-api:${remote}` : 'control-api';
}
