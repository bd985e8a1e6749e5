import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { StoreUnavailableError, storeCall } from './errors.js';

/** The one item holding the secret that page tokens are signed with (tenants table). */
export const PAGING_SECRET_KEY = { pk: 'PAGING', sk: 'SECRET' } as const;
export const PAGING_SECRET_BYTES = 32;

/**
 * The secret behind page tokens (next_token), made on first use and kept in
 * the tenants table. Every API process (each Lambda instance, each local
 * server) must sign and check with the same key: a per-process random key
 * would reject a token the previous page's instance issued, and a key in the
 * environment would need a secret store and a deploy step to make it. The
 * first user writes a random key with a conditional put; a racing second one
 * loses and reads the winner's. Whoever can read this table can read every
 * tenant's data anyway, so keeping the key beside that data gives away nothing
 * a token could. Delete the item to rotate (outstanding tokens then fail once
 * each process reloads it, which is on restart).
 */
export class PagingSecretRepository {
  private cached: Promise<Uint8Array> | undefined;

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  /** The secret, read (or created) once per process; a failed read is retried next time. */
  secret(): Promise<Uint8Array> {
    this.cached ??= this.load().catch((error: unknown) => {
      this.cached = undefined;
      throw error;
    });
    return this.cached;
  }

  private async load(): Promise<Uint8Array> {
    const existing = await this.read();
    if (existing) return existing;
    const created = new Uint8Array(randomBytes(PAGING_SECRET_BYTES));
    const won = await storeCall('create paging secret', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...PAGING_SECRET_KEY, secret: created, created_at: new Date().toISOString() },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
    if (won) return created;
    const winner = await this.read();
    if (!winner) throw new StoreUnavailableError('the paging secret vanished while it was created');
    return winner;
  }

  private async read(): Promise<Uint8Array | undefined> {
    const out = await storeCall('read paging secret', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: PAGING_SECRET_KEY, ConsistentRead: true }),
      ),
    );
    const secret = out.Item?.secret;
    return secret instanceof Uint8Array && secret.length >= PAGING_SECRET_BYTES
      ? secret
      : undefined;
  }
}
