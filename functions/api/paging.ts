import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { AppDeps } from './env.js';
import { ApiError } from './errors.js';

/**
 * Page tokens (next_token): where the previous page ended in the store, bound
 * to the tenant and to the query it came from, signed so nobody can forge or
 * edit one. Format: `p1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`,
 * keyed per tenant (HMAC of the paging secret and the tenant name), so a
 * token from another tenant fails its signature. The claims are signed, not
 * encrypted: the position is the sort key of the last item returned, nothing
 * the client was not just shown.
 */

export const PAGE_TOKEN_VERSION = 'p1';
/** A token outlives its page by this long; then the client starts again. */
export const PAGE_TOKEN_TTL_SEC = 24 * 3600;
/** Longer tokens are refused before any decoding. */
export const MAX_PAGE_TOKEN_LENGTH = 2048;

/** A next_token that is malformed, altered, expired, another tenant's or another query's. */
export class InvalidNextTokenError extends ApiError {
  override readonly name = 'InvalidNextTokenError';
  constructor(reason: string) {
    super(400, 'invalid_next_token', `next_token ${reason}; start again without next_token`);
  }
}

const claimsSchema = z.strictObject({
  /** Fingerprint of the query (queryFingerprint). */
  q: z.string().regex(/^[0-9a-f]{32}$/),
  /** Store position: the sort key to resume after. */
  p: z.string().min(1).max(1024),
  /** Expiry, epoch seconds. */
  e: z.number().int().nonnegative(),
});
export type PageClaims = z.infer<typeof claimsSchema>;

/** The per-tenant signing key. */
export function tenantPagingKey(secret: Uint8Array, tenant: string): Buffer {
  return createHmac('sha256', secret).update(`wirefleet next_token key\0${tenant}`).digest();
}

/**
 * What identifies a query for paging: the list it reads and its parameters
 * after validation (defaults filled, numbers parsed), except limit and
 * next_token. Key order and absent parameters do not matter.
 */
export function queryFingerprint(list: string, params: Record<string, unknown>): string {
  const entries = Object.entries(params)
    .filter(([name, value]) => value !== undefined && name !== 'limit' && name !== 'next_token')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([list, entries]))
    .digest('hex')
    .slice(0, 32);
}

const mac = (key: Uint8Array, signed: string) => createHmac('sha256', key).update(signed).digest();

export function sealPageToken(key: Uint8Array, claims: PageClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signed = `${PAGE_TOKEN_VERSION}.${body}`;
  return `${signed}.${mac(key, signed).toString('base64url')}`;
}

/** The position a token holds, after checking its signature, query and expiry. */
export function openPageToken(
  key: Uint8Array,
  token: string,
  expect: { query: string; nowSec: number },
): string {
  if (token.length > MAX_PAGE_TOKEN_LENGTH) throw new InvalidNextTokenError('is too long');
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PAGE_TOKEN_VERSION) {
    throw new InvalidNextTokenError('is not a wirefleet page token');
  }
  const [version, body, signature] = parts as [string, string, string];
  const given = Buffer.from(signature, 'base64url');
  const wanted = mac(key, `${version}.${body}`);
  // Canonical base64url only: a token re-encoded with other padding bits is not the one issued.
  if (
    given.toString('base64url') !== signature ||
    given.length !== wanted.length ||
    !timingSafeEqual(given, wanted)
  ) {
    throw new InvalidNextTokenError('was altered or belongs to another tenant');
  }
  let claims: PageClaims;
  try {
    claims = claimsSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw new InvalidNextTokenError('is not a wirefleet page token');
  }
  if (claims.q !== expect.query) {
    throw new InvalidNextTokenError(
      'was issued for another query (keep every parameter but limit)',
    );
  }
  if (claims.e < expect.nowSec) throw new InvalidNextTokenError('has expired');
  return claims.p;
}

/** One list request: where to resume, and how to say where the next page starts. */
export interface PageCursor {
  /** The position to resume after; undefined on a first page. */
  after: string | undefined;
  /** The next_token for a page that ended at `next`; null at the end. */
  tokenFor(next: string | undefined): Promise<string | null>;
}

/** Issues and reads a tenant's page tokens with the shared paging secret. */
export class PageTokens {
  constructor(
    private readonly secret: () => Promise<Uint8Array>,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** A token resuming after `position`; null when there is no next page. */
  async issue(tenant: string, query: string, position: string | undefined): Promise<string | null> {
    if (position === undefined) return null;
    const key = tenantPagingKey(await this.secret(), tenant);
    const e = Math.floor(this.nowMs() / 1000) + PAGE_TOKEN_TTL_SEC;
    return sealPageToken(key, { q: query, p: position, e });
  }

  /** Opens the token a list request brought (if any), bound to its tenant and query. */
  async cursor(
    tenant: string,
    list: string,
    params: Record<string, unknown>,
    token: string | undefined,
  ): Promise<PageCursor> {
    const query = queryFingerprint(list, params);
    return {
      after: await this.read(tenant, query, token),
      tokenFor: (next) => this.issue(tenant, query, next),
    };
  }

  /** The position to resume after; undefined for a first page (no token). */
  async read(
    tenant: string,
    query: string,
    token: string | undefined,
  ): Promise<string | undefined> {
    if (token === undefined) return undefined;
    const key = tenantPagingKey(await this.secret(), tenant);
    return openPageToken(key, token, { query, nowSec: this.nowMs() / 1000 });
  }
}

/** The app's page tokens: signed with the paging secret from the store, timed by the app's clock. */
export function pageTokensFor(deps: Pick<AppDeps, 'pagingSecret' | 'now'>): PageTokens {
  return new PageTokens(() => deps.pagingSecret.secret(), deps.now ?? Date.now);
}
