import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StoreClients } from './clients.js';
import { isConditionFailure } from './conditional.js';
import { AlreadyExistsError, storeCall } from './errors.js';
import { generateSecret, hashSecret, TtlCache } from './secrets.js';

export interface Tenant {
  name: string;
  /** LISP instance ID (24 bits) that scopes this tenant's map-cache and packets. */
  instanceId: number;
  createdAt: string;
}

export const DEFAULT_TENANT = 'default';
export const DEFAULT_INSTANCE_ID = 1;
export const MAX_INSTANCE_ID = 0xffffff;
export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Tokens are high-entropy random strings, so one SHA-256 is enough to store them safely. */
export const hashToken = hashSecret;

export function generateToken(): string {
  return generateSecret('wf_');
}

/** Tenants, their instance IDs and their API tokens (stored hashed). */
export class TenantRepository {
  /** Resolved tokens, kept briefly so each request does not pay two reads. */
  static readonly TOKEN_CACHE_MS = 30_000;
  static readonly TOKEN_CACHE_SIZE = 1000;
  private readonly tokenCache = new TtlCache<Tenant>(
    TenantRepository.TOKEN_CACHE_MS,
    TenantRepository.TOKEN_CACHE_SIZE,
  );

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  async get(name: string): Promise<Tenant | undefined> {
    const out = await storeCall('get tenant', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: `TENANT#${name}`, sk: 'META' } }),
      ),
    );
    if (!out.Item) return undefined;
    return {
      name,
      instanceId: Number(out.Item.instance_id),
      createdAt: String(out.Item.created_at),
    };
  }

  /**
   * Creates a tenant with the given instance ID, or the next free one.
   * Instance IDs are claimed with a conditional put so two tenants never share one.
   */
  async create(name: string, instanceId?: number): Promise<Tenant> {
    if (!TENANT_NAME_PATTERN.test(name)) {
      throw new RangeError(
        `invalid tenant name "${name}": use a-z, 0-9 and '-', up to 63 characters`,
      );
    }
    if (await this.get(name)) throw new AlreadyExistsError(`tenant "${name}" already exists`);
    const iid = instanceId ?? (await this.nextFreeInstanceId());
    const createdAt = new Date().toISOString();
    try {
      await this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `IID#${iid}`, sk: 'IID', tenant: name },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new AlreadyExistsError(`instance ID ${iid} is taken`);
      throw error;
    }
    try {
      await this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `TENANT#${name}`, sk: 'META', instance_id: iid, created_at: createdAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new AlreadyExistsError(`tenant "${name}" already exists`);
      throw error;
    }
    return { name, instanceId: iid, createdAt };
  }

  /** Returns the tenant, creating it (with the given instance ID if free) when missing. */
  async ensure(name: string, instanceId?: number): Promise<Tenant> {
    const existing = await this.get(name);
    if (existing) return existing;
    try {
      return await this.create(name, instanceId);
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      const raced = await this.get(name);
      if (raced) return raced;
      return this.create(name);
    }
  }

  /** Issues a new token for an existing tenant and returns it; only its hash is stored. */
  async issueToken(tenant: string, label = ''): Promise<string> {
    const token = generateToken();
    await this.registerToken(tenant, token, label);
    return token;
  }

  /** Stores the hash of a token chosen elsewhere (e.g. WIREFLEET_API_TOKEN). */
  async registerToken(tenant: string, token: string, label = ''): Promise<void> {
    await storeCall('register token', () =>
      this.clients.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `TOKEN#${hashToken(token)}`,
            sk: 'TOKEN',
            tenant,
            label,
            created_at: new Date().toISOString(),
          },
        }),
      ),
    );
  }

  /**
   * Deletes a token; returns the tenant it belonged to, or undefined when no
   * such token exists. Other API instances that resolved it in the last
   * TOKEN_CACHE_MS still accept it until their cache entry lapses.
   */
  async revokeToken(token: string): Promise<string | undefined> {
    const hash = hashToken(token);
    this.tokenCache.delete(hash);
    const out = await storeCall('revoke token', () =>
      this.clients.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: `TOKEN#${hash}`, sk: 'TOKEN' },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const tenant = out.Attributes?.tenant;
    return typeof tenant === 'string' ? tenant : undefined;
  }

  /** Resolves a bearer token to its tenant, or undefined when unknown. */
  async resolveToken(token: string): Promise<Tenant | undefined> {
    const hash = hashToken(token);
    const cached = this.tokenCache.get(hash);
    if (cached) return cached;
    const out = await storeCall('resolve token', () =>
      this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: `TOKEN#${hash}`, sk: 'TOKEN' } }),
      ),
    );
    const name = out.Item?.tenant;
    const tenant = typeof name === 'string' ? await this.get(name) : undefined;
    // Only hits are cached: a token issued a moment ago must work at once.
    if (tenant) {
      this.tokenCache.set(hash, tenant);
    }
    return tenant;
  }

  private async nextFreeInstanceId(): Promise<number> {
    // A counter hands out candidates; the conditional IID put in create() is the real guard.
    for (let attempt = 0; attempt < 64; attempt++) {
      const out = await storeCall('allocate instance ID', () =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: 'COUNTER', sk: 'INSTANCE_ID' },
            UpdateExpression: 'ADD #v :one',
            ExpressionAttributeNames: { '#v': 'value' },
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      const candidate = Number(out.Attributes?.value);
      if (candidate > MAX_INSTANCE_ID) throw new RangeError('no free LISP instance IDs left');
      const taken = await this.clients.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: `IID#${candidate}`, sk: 'IID' } }),
      );
      if (!taken.Item) return candidate;
    }
    throw new RangeError('could not allocate a free instance ID');
  }
}
