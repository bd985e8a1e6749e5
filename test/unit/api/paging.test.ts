import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidNextTokenError,
  MAX_PAGE_TOKEN_LENGTH,
  openPageToken,
  PAGE_TOKEN_TTL_SEC,
  PageTokens,
  queryFingerprint,
  sealPageToken,
  tenantPagingKey,
} from '../../../functions/api/paging.js';

const SECRET = new Uint8Array(32).fill(7);
const NOW_SEC = 1_800_000_000;
const QUERY = queryFingerprint('flows', { agent_id: 'edge-1', sort_by: 'time', min_packets: 0 });
const keyA = tenantPagingKey(SECRET, 'acme');

const seal = (claims: Partial<{ q: string; p: string; e: number }> = {}) =>
  sealPageToken(keyA, { q: QUERY, p: '000001800000000#edge-1#abc', e: NOW_SEC + 60, ...claims });

/** The InvalidNextTokenError a call throws (failing the test when it throws none). */
function refusal(fn: () => unknown): InvalidNextTokenError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidNextTokenError);
    const e = error as InvalidNextTokenError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_next_token');
    return e;
  }
  throw new Error('expected an InvalidNextTokenError');
}

describe('page token codec', () => {
  it('round-trips the position', () => {
    const token = seal();
    expect(token).toMatch(/^p1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(openPageToken(keyA, token, { query: QUERY, nowSec: NOW_SEC })).toBe(
      '000001800000000#edge-1#abc',
    );
  });

  it('refuses a token signed for another tenant', () => {
    const keyB = tenantPagingKey(SECRET, 'globex');
    expect(keyB.equals(keyA)).toBe(false);
    const foreign = sealPageToken(keyB, { q: QUERY, p: 'x', e: NOW_SEC + 60 });
    expect(
      refusal(() => openPageToken(keyA, foreign, { query: QUERY, nowSec: NOW_SEC })).message,
    ).toMatch(/altered or belongs to another tenant/);
    // The same tenant under another secret (another deployment) is refused too.
    const otherSecret = tenantPagingKey(new Uint8Array(32).fill(8), 'acme');
    refusal(() => openPageToken(otherSecret, seal(), { query: QUERY, nowSec: NOW_SEC }));
  });

  it('refuses any edit of the claims or the signature', () => {
    const token = seal();
    const [version, body, signature] = token.split('.') as [string, string, string];
    // Move the position: re-encode the claims with another sort key, keep the old signature.
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const moved = Buffer.from(JSON.stringify({ ...claims, p: '999999999999999' })).toString(
      'base64url',
    );
    refusal(() =>
      openPageToken(keyA, `${version}.${moved}.${signature}`, { query: QUERY, nowSec: NOW_SEC }),
    );
    // Flip one character anywhere.
    for (let i = 3; i < token.length; i += 7) {
      if (token[i] === '.') continue;
      const flipped = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
      refusal(() => openPageToken(keyA, flipped, { query: QUERY, nowSec: NOW_SEC }));
    }
    // The same signature bytes written with other trailing (unused) bits are not the issued token.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const alias = `${signature.slice(0, -1)}${alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1]}`;
    expect(Buffer.from(alias, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
    refusal(() =>
      openPageToken(keyA, `${version}.${body}.${alias}`, { query: QUERY, nowSec: NOW_SEC }),
    );
  });

  it('refuses a token from another query, naming why', () => {
    const other = queryFingerprint('flows', {
      agent_id: 'edge-2',
      sort_by: 'time',
      min_packets: 0,
    });
    expect(
      refusal(() => openPageToken(keyA, seal(), { query: other, nowSec: NOW_SEC })).message,
    ).toMatch(/another query/);
  });

  it('refuses an expired token', () => {
    const token = seal({ e: NOW_SEC - 1 });
    expect(
      refusal(() => openPageToken(keyA, token, { query: QUERY, nowSec: NOW_SEC })).message,
    ).toMatch(/expired/);
  });

  it('refuses malformed tokens without decoding them', () => {
    const valid = seal();
    const signedGarbage = (body: string) => {
      const signed = `p1.${Buffer.from(body).toString('base64url')}`;
      // A correctly signed body that is not valid claims (the signer is us, the content is not).
      return `${signed}.${createHmac('sha256', keyA).update(signed).digest('base64url')}`;
    };
    for (const token of [
      '',
      'abc',
      'p1.abc',
      'p2.abc.def',
      `${valid}.extra`,
      valid.replace(/^p1/, 'p2'),
      'x'.repeat(MAX_PAGE_TOKEN_LENGTH + 1),
      signedGarbage('not json'),
      signedGarbage(JSON.stringify({ q: QUERY, p: 'x' })),
      signedGarbage(JSON.stringify({ q: QUERY, p: '', e: NOW_SEC + 9 })),
      signedGarbage(JSON.stringify({ q: QUERY, p: 'x', e: NOW_SEC + 9, tenant: 'other' })),
    ]) {
      refusal(() => openPageToken(keyA, token, { query: QUERY, nowSec: NOW_SEC }));
    }
  });
});

describe('queryFingerprint', () => {
  it('ignores limit, next_token, absent values and key order', () => {
    const a = queryFingerprint('flows', { sort_by: 'time', since: 100, limit: 5 });
    const b = queryFingerprint('flows', {
      next_token: 'p1.x.y',
      since: 100,
      until: undefined,
      sort_by: 'time',
      limit: 1000,
    });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs with any parameter and with the list', () => {
    const base = queryFingerprint('flows', { sort_by: 'time', since: 100 });
    expect(queryFingerprint('flows', { sort_by: 'time', since: 101 })).not.toBe(base);
    expect(queryFingerprint('flows', { sort_by: 'time', since: '100' })).not.toBe(base);
    expect(queryFingerprint('flows', { sort_by: 'time' })).not.toBe(base);
    expect(queryFingerprint('packets/recent', { sort_by: 'time', since: 100 })).not.toBe(base);
    expect(queryFingerprint('agents/a/events', {})).not.toBe(
      queryFingerprint('agents/b/events', {}),
    );
  });
});

describe('PageTokens', () => {
  it('issues null at the end, expires after the TTL and binds tenant and query', async () => {
    let nowMs = NOW_SEC * 1000;
    let reads = 0;
    const tokens = new PageTokens(
      async () => {
        reads++;
        return SECRET;
      },
      () => nowMs,
    );
    const first = await tokens.cursor('acme', 'flows', { sort_by: 'time' }, undefined);
    expect(first.after).toBeUndefined();
    expect(await first.tokenFor(undefined)).toBeNull();
    const token = (await first.tokenFor('pos-1'))!;
    expect(token).toMatch(/^p1\./);

    const second = await tokens.cursor('acme', 'flows', { sort_by: 'time', limit: 7 }, token);
    expect(second.after).toBe('pos-1');
    await expect(tokens.cursor('globex', 'flows', { sort_by: 'time' }, token)).rejects.toThrow(
      InvalidNextTokenError,
    );
    await expect(tokens.cursor('acme', 'flows', { sort_by: 'bytes' }, token)).rejects.toThrow(
      /another query/,
    );
    nowMs += PAGE_TOKEN_TTL_SEC * 1000 + 1000;
    await expect(tokens.cursor('acme', 'flows', { sort_by: 'time' }, token)).rejects.toThrow(
      /expired/,
    );
    expect(reads).toBeGreaterThan(0);
  });
});
