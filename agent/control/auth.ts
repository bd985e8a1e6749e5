import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AgentLogger } from '../log.js';
import type { ControlEnv } from './env.js';
import { actorOf, remoteAddress } from './env.js';
import { RequestError } from './errors.js';
import { RefusalAudit } from './refusal-audit.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Constant-time token check: both sides are hashed first, so neither the token's bytes nor
 * its length can be learned from response times.
 */
export function tokenMatches(expected: Buffer, presented: string): boolean {
  return timingSafeEqual(expected, digest(presented));
}

/**
 * Every route needs `Authorization: Bearer <token>`. Refusals are audited, rate-limited per
 * remote address (RefusalAudit): the first at once, then a `refused_count` line per 10 s.
 */
export function bearerToken(token: string, logger: AgentLogger): MiddlewareHandler<ControlEnv> {
  if (token.length < 16)
    throw new RangeError('the control API token must be at least 16 characters');
  const expected = digest(token);
  const refusals = new RefusalAudit((fields) =>
    logger.audit('control.auth', { actor: 'control-api', outcome: 'refused', ...fields }),
  );
  return async function bearerTokenMiddleware(c, next) {
    const header = c.req.header('authorization');
    const refuse = (code: 'missing_token' | 'invalid_token', message: string) => {
      refusals.refused(remoteAddress(c) ?? 'local', {
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
