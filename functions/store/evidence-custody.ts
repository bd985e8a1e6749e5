import { randomBytes } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { padMs } from './conditional.js';
import { storeCall } from './errors.js';
import { pageAfter, readPage } from './query.js';
import { TTL_ATTRIBUTE } from './schema.js';

/** What was handed out: a link to one segment, a link to a window, or a window job started. */
export const CUSTODY_ACTIONS = ['segment_link', 'window_link', 'window_job'] as const;
export type CustodyAction = (typeof CUSTODY_ACTIONS)[number];

/** One line of a tenant's evidence custody log: who was given access to which evidence, when. */
export interface CustodyEntry {
  entry_id: string;
  /** ISO 8601, when the API handed it out. */
  at: string;
  action: CustodyAction;
  /** First 16 hex digits of SHA-256 over the bearer token: which token asked, not the token. */
  token_id: string;
  request_id: string;
  source_ip?: string;
  user_agent?: string;
  agent_ids: string[];
  segment_id?: string;
  window_id?: string;
  job_id?: string;
  since?: number;
  until?: number;
  segments?: number;
  bytes?: number;
  /** The segment's SHA-256 (segment links). */
  sha256?: string;
  /** When the link handed out expires (ISO 8601). */
  link_expires_at?: string;
}

export type NewCustodyEntry = Omit<CustodyEntry, 'entry_id' | 'at'>;

/** Kept a year: longer than the evidence (30 days by default), as custody records should be. */
export const CUSTODY_TTL_DAYS = 365;

const partition = (tenant: string) => `CUSTODY#${tenant}`;

/**
 * The evidence custody log, one time-ordered partition per tenant in the flows table. The API
 * writes an entry before it hands out a link to evidence; no entry, no link.
 */
export class EvidenceCustodyRepository {
  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  async record(tenant: string, entry: NewCustodyEntry, nowMs: number): Promise<CustodyEntry> {
    const stored: CustodyEntry = {
      entry_id: randomBytes(8).toString('hex'),
      at: new Date(nowMs).toISOString(),
      ...entry,
    };
    await storeCall('record evidence custody', () =>
      this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...stored,
            pk: partition(tenant),
            sk: `${padMs(nowMs)}#${stored.entry_id}`,
            [TTL_ATTRIBUTE]: Math.floor(nowMs / 1000) + CUSTODY_TTL_DAYS * 86_400,
          },
        }),
      ),
    );
    return stored;
  }

  /** One page, newest first; `next` resumes after its last entry and is undefined at the end. */
  async page(
    tenant: string,
    page: { limit: number; after?: string },
  ): Promise<{ entries: CustodyEntry[]; next?: string }> {
    const pk = partition(tenant);
    const { items, next } = await readPage(
      this.clients.doc,
      'list evidence custody',
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
      },
      { pk, limit: page.limit, maxRead: page.limit + 1, ...pageAfter(page.after) },
    );
    const entries = items.map(({ pk: _pk, sk: _sk, [TTL_ATTRIBUTE]: _ttl, ...entry }) => entry);
    return {
      entries: entries as unknown as CustodyEntry[],
      ...(next !== undefined ? { next } : {}),
    };
  }
}
