import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_MAPPINGS, type Mappings, mappingsSchema } from '../routing/mappings.js';
import type { StoreClients } from './clients.js';
import { storeCall } from './errors.js';

/** Per-tenant routing configuration; tenants without one get the seed defaults. */
export class MappingsRepository {
  /** Last parsed document per tenant: unchanged documents skip parsing and keep their compiled map-cache. */
  private readonly parsed = new Map<string, { doc: string; mappings: Mappings }>();

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  async get(tenant: string): Promise<{ mappings: Mappings; updatedAt: string | null }> {
    const out = await storeCall('get mappings', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: `TENANT#${tenant}`, sk: 'MAPPINGS' } }),
      ),
    );
    if (!out.Item) return { mappings: DEFAULT_MAPPINGS, updatedAt: null };
    const doc = String(out.Item.doc);
    let entry = this.parsed.get(tenant);
    if (entry?.doc !== doc) {
      // Stored documents were validated on write; parse again so defaults added later apply.
      entry = { doc, mappings: mappingsSchema.parse(JSON.parse(doc)) };
      this.parsed.set(tenant, entry);
    }
    return { mappings: entry.mappings, updatedAt: String(out.Item.updated_at) };
  }

  async put(tenant: string, mappings: Mappings): Promise<string> {
    const updatedAt = new Date().toISOString();
    await storeCall('put mappings', () =>
      this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `TENANT#${tenant}`,
            sk: 'MAPPINGS',
            doc: JSON.stringify(mappings),
            updated_at: updatedAt,
          },
        }),
      ),
    );
    return updatedAt;
  }
}
