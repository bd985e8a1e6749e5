import { generateKeyPairSync } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { StoreUnavailableError, storeCall } from './errors.js';

/** The one item holding the Ed25519 key that signs window manifests (tenants table). */
export const MANIFEST_KEY_ITEM = { pk: 'EVIDENCE', sk: 'MANIFEST_KEY' } as const;

/**
 * The cloud's window-manifest signing key, made on first use and kept in the tenants table,
 * as the paging secret is (paging-secret.ts): every API instance must sign with the same key,
 * and investigators pin its public key (GET /evidence/manifest-key). The first user writes a
 * fresh key pair with a conditional put; a racing second one reads the winner's. Whoever can read
 * this table can read the segments' records anyway, but not their plaintext (the master key
 * stays with the agents). Delete the item to rotate; manifests signed before keep verifying with
 * the old public key they carry, which no longer matches the pinned one.
 */
export class ManifestKeyRepository {
  private cached: Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> | undefined;

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  /** PKCS#8 and SPKI DER, read (or created) once per process; a failed read is retried next time. */
  keyPair(): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
    this.cached ??= this.load().catch((error: unknown) => {
      this.cached = undefined;
      throw error;
    });
    return this.cached;
  }

  private async load() {
    const existing = await this.read();
    if (existing) return existing;
    const pair = generateKeyPairSync('ed25519');
    const created = {
      privateKey: new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' })),
      publicKey: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
    };
    const won = await storeCall('create manifest key', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...MANIFEST_KEY_ITEM,
              private_key: created.privateKey,
              public_key: created.publicKey,
              created_at: new Date().toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
    if (won) return created;
    const winner = await this.read();
    if (!winner) throw new StoreUnavailableError('the manifest key vanished while it was created');
    return winner;
  }

  private async read() {
    const out = await storeCall('read manifest key', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: MANIFEST_KEY_ITEM, ConsistentRead: true }),
      ),
    );
    const { private_key: privateKey, public_key: publicKey } = out.Item ?? {};
    return privateKey instanceof Uint8Array && publicKey instanceof Uint8Array
      ? { privateKey, publicKey }
      : undefined;
  }
}
