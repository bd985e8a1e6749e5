import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AgentLogger } from '../log.js';
import type { ControlEnv } from './env.js';
import { actorOf } from './env.js';
import { RequestError } from './errors.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Constant-time token check: both sides are hashed first, so neither the token's bytes nor
 * its length can be learned from response times.
 */
export function tokenMatches(expected: Buffer, presented: string): boolean {
  return timingSafeEqual(expected, digest(presented));
}

/** Every route needs `Authorization: Bearer <token>`; refusals are audited. */
export function bearerToken(token: string, logger: AgentLogger): MiddlewareHandler<ControlEnv> {
  if (token.length < 16)
    throw new RangeError('the control API token must be at least 16 characters');
  const expected = digest(token);
  return async function bearerTokenMiddleware(c, next) {
    const header = c.req.header('authorization');
    const refuse = (code: 'missing_token' | 'invalid_token', message: string) => {
      logger.audit('control.auth', {
        actor: actorOf(c),
        outcome: 'refused',
        code,
        encryption: false,
        method: c.req.method,
        path: c.req.path,
      });
      c.header(
        'WWW-Authenticate',
        code === 'missing_token'
          ? 'Bearer realm="wirefleet-agent"'
          : 'Bearer realm="wirefleet-agent", error="invalid_token"',
      );
      return new RequestError(401, code, message);
    };
    if (!header) throw refuse('missing_token', 'send Authorization: Bearer <token>');
    const match = /^Bearer\s+(\S{1,1024})\s*$/i.exec(header);
    if (!match || !tokenMatches(expected, match[1]!)) {
      throw refuse('invalid_token', 'the bearer token is not valid');
    }
    await next();
  };
}
