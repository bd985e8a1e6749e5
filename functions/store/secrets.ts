import { createHash, randomBytes } from 'node:crypto';

/**
 * API tokens and agent passwords: 32 random bytes behind a readable prefix.
 * They are high-entropy, so one SHA-256 is enough to store them safely.
 */
export function generateSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * A small map whose entries expire, cleared wholesale when full: for lookups
 * that may be a few seconds stale (resolved tokens, verified passwords).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSize: number,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.until > Date.now() ? entry.value : undefined;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.maxSize) this.entries.clear();
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
