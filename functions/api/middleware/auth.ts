import type { MiddlewareHandler } from 'hono';
import { hashToken, type TenantRepository } from '../../store/tenants.js';
import type { AppEnv } from '../env.js';
import { UnauthorizedError } from '../errors.js';

/** Bearer-token auth: resolves the token's hash to a tenant and sets `c.var.tenant`. */
export function bearerAuth(tenants: TenantRepository): MiddlewareHandler<AppEnv> {
  return async function bearerAuthMiddleware(c, next) {
    const header = c.req.header('authorization');
    if (!header) {
      c.header('WWW-Authenticate', 'Bearer realm="wirefleet"');
      throw new UnauthorizedError('missing_token', 'send Authorization: Bearer <token>');
    }
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    const tenant = match ? await tenants.resolveToken(match[1]!) : undefined;
    if (!tenant) {
      c.header('WWW-Authenticate', 'Bearer realm="wirefleet", error="invalid_token"');
      throw new UnauthorizedError('invalid_token', 'the bearer token is not valid');
    }
    c.set('tenant', tenant);
    c.set('tokenId', hashToken(match![1]!).slice(0, 16));
    await next();
  };
}
