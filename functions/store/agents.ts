import { timingSafeEqual } from 'node:crypto';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  AGENT_ID_PATTERN,
  type AgentMetrics,
  type Heartbeat,
} from '../../protocol/agent-messages.js';
import type {
  CertificateRecord,
  CertificateRegistry,
  CertificateStatus,
  PendingCertificate,
} from '../identity/provider.js';
import type { StoreClients } from './clients.js';
import { conditionalWrite } from './conditional.js';
import { AlreadyExistsError, StoreUnavailableError, storeCall } from './errors.js';
import { pageAfter, queryPages, readPage } from './query.js';
import { generateSecret, hashSecret, TtlCache } from './secrets.js';

export interface AgentRecord {
  agentId: string;
  tenant: string;
  createdAt: string;
  /** Epoch seconds (server clock) when the latest heartbeat arrived; null before the first. */
  lastSeen: number | null;
  heartbeat: Omit<Heartbeat, 'schema'> | null;
  metrics: Omit<AgentMetrics, 'schema'> | null;
  /** Epoch seconds (server clock) when the latest metrics arrived. */
  metricsAt: number | null;
  /** The agent's current certificate; null for password agents and before the first. */
  certificate: CertificateRecord | null;
  /** A certificate made but not (yet) attached: a registration that failed half-way. */
  pendingCertificate: PendingCertificate | null;
  /** Whether the agent has a password (the plain-TCP login of the local broker). */
  passwordLogin: boolean;
}

/** An agent that missed this many heartbeat intervals counts as offline. */
export const AGENT_OFFLINE_AFTER_INTERVALS = 3;

/** Online = the latest heartbeat arrived within 3 × the interval it promised. */
export function isOnline(agent: AgentRecord, nowSec = Date.now() / 1000): boolean {
  if (agent.lastSeen === null || agent.heartbeat === null) return false;
  return nowSec - agent.lastSeen <= AGENT_OFFLINE_AFTER_INTERVALS * agent.heartbeat.interval_sec;
}

export const agentKey = (agentId: string) => ({ pk: `AGENT#${agentId}`, sk: 'META' });
/** The per-tenant index item that makes list(tenant) a Query. */
export const agentIndexKey = (tenant: string, agentId: string) => ({
  pk: `TENANT#${tenant}`,
  sk: `AGENT#${agentId}`,
});

/** Agent passwords are random and high-entropy, so one SHA-256 stores them safely. */
export const hashAgentPassword = hashSecret;

export function generateAgentPassword(): string {
  return generateSecret('wfa_');
}

function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function toCertificate(item: Record<string, unknown>): CertificateRecord | null {
  const id = str(item.cert_id);
  if (!id) return null;
  return {
    id,
    arn: str(item.cert_arn),
    status: item.cert_status === 'ACTIVE' ? 'ACTIVE' : 'INACTIVE',
    issuedAt: str(item.cert_issued_at) ?? '',
    notAfter: str(item.cert_not_after),
  };
}

function toAgent(item: Record<string, unknown>): AgentRecord {
  const num = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  const pendingId = str(item.pending_cert_id);
  return {
    agentId: String(item.agent_id),
    tenant: String(item.tenant),
    createdAt: String(item.created_at),
    lastSeen: num(item.last_seen),
    heartbeat: (item.heartbeat as AgentRecord['heartbeat'] | undefined) ?? null,
    metrics: (item.metrics as AgentRecord['metrics'] | undefined) ?? null,
    metricsAt: num(item.metrics_at),
    certificate: toCertificate(item),
    pendingCertificate: pendingId ? { id: pendingId, arn: str(item.pending_cert_arn) } : null,
    passwordLogin: typeof item.password_hash === 'string',
  };
}

/**
 * Agents, kept in the tenants table. Agent ids are global (they are MQTT
 * client ids and topic segments); the tenant comes from the registry alone.
 */
export class AgentRepository implements CertificateRegistry {
  /** Verified password hashes, kept briefly so a reconnect storm does not read the table per CONNECT. */
  static readonly PASSWORD_CACHE_MS = 30_000;
  static readonly PASSWORD_CACHE_SIZE = 1000;
  private readonly passwordCache = new TtlCache<string>(
    AgentRepository.PASSWORD_CACHE_MS,
    AgentRepository.PASSWORD_CACHE_SIZE,
  );

  constructor(
    private readonly clients: StoreClients,
    private readonly table: string,
  ) {}

  /** Registers an agent that logs in with a password, and returns that password (shown once). */
  async register(
    tenant: string,
    agentId: string,
  ): Promise<{ agent: AgentRecord; password: string }> {
    const password = generateAgentPassword();
    const agent = await this.create(tenant, agentId, hashAgentPassword(password));
    return { agent: { ...agent, passwordLogin: true }, password };
  }

  /** Claims the agent id with no credential yet: its certificate follows (identity provider). */
  async registerForCertificate(tenant: string, agentId: string): Promise<AgentRecord> {
    return this.create(tenant, agentId, undefined);
  }

  private async create(
    tenant: string,
    agentId: string,
    passwordHash: string | undefined,
  ): Promise<AgentRecord> {
    if (!AGENT_ID_PATTERN.test(agentId)) {
      throw new RangeError(
        `invalid agent id "${agentId}": use a-z, 0-9 and '-', up to 63 characters`,
      );
    }
    const agent: AgentRecord = {
      agentId,
      tenant,
      createdAt: new Date().toISOString(),
      lastSeen: null,
      heartbeat: null,
      metrics: null,
      metricsAt: null,
      certificate: null,
      pendingCertificate: null,
      passwordLogin: false,
    };
    // The META item claims the id globally; the index item only makes listing cheap.
    const claimed = await storeCall('register agent', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...agentKey(agentId),
              agent_id: agentId,
              tenant,
              created_at: agent.createdAt,
              ...(passwordHash ? { password_hash: passwordHash } : {}),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
    if (!claimed) throw new AlreadyExistsError(`agent "${agentId}" already exists`);
    try {
      await storeCall('index agent', () =>
        this.clients.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...agentIndexKey(tenant, agentId), agent_id: agentId },
          }),
        ),
      );
    } catch (error) {
      // Release the id, best effort, so a retry of register() can succeed.
      await this.remove(tenant, agentId).catch(() => {});
      throw error;
    }
    return agent;
  }

  /** Issues a new password; undefined when the agent is unknown or another tenant's. */
  async rotatePassword(tenant: string, agentId: string): Promise<string | undefined> {
    const password = generateAgentPassword();
    const applied = await storeCall('rotate agent password', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: agentKey(agentId),
            UpdateExpression: 'SET #h = :h',
            ConditionExpression: 'attribute_exists(pk) AND #t = :t',
            ExpressionAttributeNames: { '#h': 'password_hash', '#t': 'tenant' },
            ExpressionAttributeValues: { ':h': hashAgentPassword(password), ':t': tenant },
          }),
        ),
      ),
    );
    // Only this process's cache can be cleared; others expire within PASSWORD_CACHE_MS.
    this.passwordCache.delete(agentId);
    return applied ? password : undefined;
  }

  /** Drops the agent's password login; false when unknown or another tenant's. */
  async removePassword(tenant: string, agentId: string): Promise<boolean> {
    const applied = await this.update('remove agent password', agentId, {
      UpdateExpression: 'REMOVE password_hash',
      ConditionExpression: 'attribute_exists(pk) AND #t = :t',
      ExpressionAttributeNames: { '#t': 'tenant' },
      ExpressionAttributeValues: { ':t': tenant },
    });
    this.passwordCache.delete(agentId);
    return applied;
  }

  async recordPendingCertificate(agentId: string, pending: PendingCertificate): Promise<void> {
    await this.update('record pending certificate', agentId, {
      UpdateExpression: pending.arn
        ? 'SET pending_cert_id = :id, pending_cert_arn = :arn'
        : 'SET pending_cert_id = :id REMOVE pending_cert_arn',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: {
        ':id': pending.id,
        ...(pending.arn ? { ':arn': pending.arn } : {}),
      },
    });
  }

  async clearPendingCertificate(agentId: string, certificateId: string): Promise<void> {
    await this.update('clear pending certificate', agentId, {
      UpdateExpression: 'REMOVE pending_cert_id, pending_cert_arn',
      ConditionExpression: 'pending_cert_id = :id',
      ExpressionAttributeValues: { ':id': certificateId },
    });
  }

  /** The certificate becomes the agent's only credential: any other certificate and the password go. */
  async activateCertificate(agentId: string, certificate: CertificateRecord): Promise<void> {
    const values: Record<string, unknown> = {
      ':id': certificate.id,
      ':status': 'ACTIVE' satisfies CertificateStatus,
      ':issued': certificate.issuedAt,
    };
    const set = ['cert_id = :id', 'cert_status = :status', 'cert_issued_at = :issued'];
    const remove = ['password_hash', 'pending_cert_id', 'pending_cert_arn'];
    for (const [attr, value] of [
      ['cert_arn', certificate.arn],
      ['cert_not_after', certificate.notAfter],
    ] as const) {
      if (value) {
        set.push(`${attr} = :${attr}`);
        values[`:${attr}`] = value;
      } else remove.push(attr);
    }
    const applied = await this.update('activate certificate', agentId, {
      UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: values,
    });
    this.passwordCache.delete(agentId);
    if (!applied)
      throw new StoreUnavailableError(`activate certificate failed: no agent ${agentId}`);
  }

  async deactivateCertificate(agentId: string, certificateId: string): Promise<boolean> {
    return this.update('deactivate certificate', agentId, {
      UpdateExpression: 'SET cert_status = :inactive',
      ConditionExpression: 'cert_id = :id',
      ExpressionAttributeValues: {
        ':id': certificateId,
        ':inactive': 'INACTIVE' satisfies CertificateStatus,
      },
    });
  }

  /**
   * True when the certificate is the agent's current one and active: what
   * the local broker asks on every connect, so rotation and revocation apply
   * to the next connection. Not cached, for the same reason.
   */
  async verifyCertificate(agentId: string, certificateId: string): Promise<boolean> {
    const item = await this.getItem(agentId);
    return (
      item !== undefined &&
      item.cert_status === 'ACTIVE' &&
      typeof item.cert_id === 'string' &&
      item.cert_id === certificateId
    );
  }

  /** Unscoped lookup, for ingest and the broker: the caller has no tenant yet. */
  async get(agentId: string): Promise<AgentRecord | undefined> {
    const item = await this.getItem(agentId);
    return item ? toAgent(item) : undefined;
  }

  /** The agent if it belongs to the tenant; undefined for unknown and foreign agents alike. */
  async getForTenant(tenant: string, agentId: string): Promise<AgentRecord | undefined> {
    const agent = await this.get(agentId);
    return agent?.tenant === tenant ? agent : undefined;
  }

  /** The tenant's agents, sorted by id. */
  async list(tenant: string): Promise<AgentRecord[]> {
    const ids: string[] = [];
    for await (const page of queryPages(this.clients.doc, 'list agents', {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `TENANT#${tenant}`, ':prefix': 'AGENT#' },
    })) {
      for (const item of page.Items ?? []) ids.push(String(item.agent_id));
    }
    return this.tenantAgents(tenant, ids);
  }

  /**
   * One page of the tenant's agents, by id; `next` resumes after the last
   * index item read and is undefined at the end. Index items left behind by a
   * removed agent are skipped, so a page may be short.
   */
  async listPage(
    tenant: string,
    page: { limit: number; after?: string },
  ): Promise<{ agents: AgentRecord[]; next?: string }> {
    const pk = agentIndexKey(tenant, '').pk;
    const { items, next } = await readPage(
      this.clients.doc,
      'list agents',
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': 'AGENT#' },
      },
      { pk, limit: page.limit, maxRead: page.limit + 1, ...pageAfter(page.after) },
    );
    const agents = await this.tenantAgents(
      tenant,
      items.map((item) => String(item.agent_id)),
    );
    return { agents, ...(next !== undefined ? { next } : {}) };
  }

  /** The registry items of these ids that belong to the tenant, sorted by id. */
  private async tenantAgents(tenant: string, ids: string[]): Promise<AgentRecord[]> {
    const agents: AgentRecord[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      for (const item of await this.batchGet(ids.slice(i, i + 100))) {
        const agent = toAgent(item);
        // An index item left behind by a removed or re-registered agent is ignored.
        if (agent.tenant === tenant) agents.push(agent);
      }
    }
    return agents.sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  }

  /** Deletes the agent (and its index item); false when unknown or another tenant's. */
  async remove(tenant: string, agentId: string): Promise<boolean> {
    const deleted = await storeCall('remove agent', () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new DeleteCommand({
            TableName: this.table,
            Key: agentKey(agentId),
            ConditionExpression: 'attribute_exists(pk) AND #t = :t',
            ExpressionAttributeNames: { '#t': 'tenant' },
            ExpressionAttributeValues: { ':t': tenant },
          }),
        ),
      ),
    );
    this.passwordCache.delete(agentId);
    if (!deleted) return false;
    await storeCall('unindex agent', () =>
      this.clients.doc.send(
        new DeleteCommand({ TableName: this.table, Key: agentIndexKey(tenant, agentId) }),
      ),
    );
    return true;
  }

  /** Compares SHA-256 hashes in constant time; unknown agents cost the same comparison. */
  async verifyPassword(agentId: string, password: string): Promise<boolean> {
    const hash = hashAgentPassword(password);
    const cached = this.passwordCache.get(agentId);
    if (cached !== undefined && hashesEqual(cached, hash)) return true;
    const item = await this.getItem(agentId);
    const stored = typeof item?.password_hash === 'string' ? item.password_hash : undefined;
    const ok = hashesEqual(stored ?? hashAgentPassword(''), hash) && stored !== undefined;
    // Only successes are cached: a freshly rotated password must work at once.
    if (ok) {
      this.passwordCache.set(agentId, hash);
    }
    return ok;
  }

  /**
   * Keeps the heartbeat if it was sent after the stored one (QoS 1 redelivery
   * and spool replays arrive out of order). 'stale' also covers an unknown agent.
   */
  async recordHeartbeat(
    agentId: string,
    heartbeat: Heartbeat,
    receivedAt = Date.now() / 1000,
  ): Promise<'stored' | 'stale'> {
    const { schema: _schema, ...body } = heartbeat;
    return this.recordNewer('record heartbeat', agentId, {
      value: body,
      valueAttr: 'heartbeat',
      sentAttr: 'hb_sent_at',
      sentAt: heartbeat.sent_at,
      atAttr: 'last_seen',
      receivedAt,
    });
  }

  /** Like recordHeartbeat, for the latest metrics snapshot. */
  async recordMetrics(
    agentId: string,
    metrics: AgentMetrics,
    receivedAt = Date.now() / 1000,
  ): Promise<'stored' | 'stale'> {
    const { schema: _schema, ...body } = metrics;
    return this.recordNewer('record metrics', agentId, {
      value: body,
      valueAttr: 'metrics',
      sentAttr: 'metrics_sent_at',
      sentAt: metrics.sent_at,
      atAttr: 'metrics_at',
      receivedAt,
    });
  }

  /** The tenant's agents that are online now (feeds the routing map-cache). */
  async listAlive(tenant: string, nowSec = Date.now() / 1000): Promise<AgentRecord[]> {
    return (await this.list(tenant)).filter((agent) => isOnline(agent, nowSec));
  }

  private async recordNewer(
    what: string,
    agentId: string,
    o: {
      value: unknown;
      valueAttr: string;
      sentAttr: string;
      sentAt: number;
      atAttr: string;
      receivedAt: number;
    },
  ): Promise<'stored' | 'stale'> {
    const applied = await storeCall(what, () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: agentKey(agentId),
            UpdateExpression: 'SET #v = :v, #s = :s, #a = :a',
            ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#s) OR #s < :s)',
            ExpressionAttributeNames: { '#v': o.valueAttr, '#s': o.sentAttr, '#a': o.atAttr },
            // Ordered by the agent's send time, but never later than receipt: one
            // heartbeat from a clock set a year ahead must not make every later one stale.
            ExpressionAttributeValues: {
              ':v': o.value,
              ':s': Math.min(o.sentAt, o.receivedAt),
              ':a': o.receivedAt,
            },
          }),
        ),
      ),
    );
    return applied ? 'stored' : 'stale';
  }

  /** A conditional update of the agent's META item; false when the condition does not hold. */
  private update(
    what: string,
    agentId: string,
    input: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    return storeCall(what, () =>
      conditionalWrite(() =>
        this.clients.doc.send(
          new UpdateCommand({ TableName: this.table, Key: agentKey(agentId), ...input }),
        ),
      ),
    );
  }

  private async getItem(agentId: string): Promise<Record<string, unknown> | undefined> {
    const out = await storeCall('get agent', () =>
      this.clients.doc.send(new GetCommand({ TableName: this.table, Key: agentKey(agentId) })),
    );
    return out.Item;
  }

  private async batchGet(ids: string[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let keys: Record<string, unknown>[] = ids.map(agentKey);
    // Unprocessed keys come back under throttling; retry them with a short backoff.
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      if (attempt > 8) throw new StoreUnavailableError('get agents failed: keys left unprocessed');
      const out = await storeCall('get agents', () =>
        this.clients.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }),
        ),
      );
      items.push(...(out.Responses?.[this.table] ?? []));
      keys = (out.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[]) ?? [];
    }
    return items;
  }
}
