import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/**
 * What an operator may change per deployment, as CDK context
 * (`npx cdk deploy -c pcapRetentionDays=7`, or "context" in cdk.json).
 * The defaults live here only, so tests and deployments agree.
 */
export interface WirefleetSettings {
  stackName: string;
  /** DynamoDB deletion protection; false only for throwaway stacks. */
  deletionProtection: boolean;
  /** PCAP objects expire after this many days. */
  pcapRetentionDays: number;
  /** S3 server access logs expire after this many days. */
  accessLogRetentionDays: number;
  /** CloudWatch Logs retention for the functions and the API access log. */
  logRetentionDays: RetentionDays;
  /** Steady-state requests per second and burst for the whole HTTP API stage. */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Lifetime of presigned PCAP links (PCAP_URL_TTL_SECONDS, 1-900). */
  pcapUrlTtlSeconds: number;
}

export const DEFAULT_SETTINGS: WirefleetSettings = {
  stackName: 'Wirefleet',
  deletionProtection: true,
  pcapRetentionDays: 30,
  accessLogRetentionDays: 90,
  logRetentionDays: RetentionDays.ONE_MONTH,
  apiRateLimit: 100,
  apiBurstLimit: 200,
  pcapUrlTtlSeconds: 300,
};

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** CloudWatch accepts only these retention periods. */
const RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0),
);

/** Reads the settings from context; `-c key=value` gives strings, cdk.json gives JSON values. */
export function settingsFromContext(node: Node): WirefleetSettings {
  const get = (key: string): unknown => node.tryGetContext(key);
  const integer = (key: keyof WirefleetSettings, min: number, max: number): number => {
    const raw = get(key);
    if (raw === undefined) return DEFAULT_SETTINGS[key] as number;
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new SettingsError(
        `context ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  };
  const boolean = (key: keyof WirefleetSettings): boolean => {
    const raw = get(key);
    if (raw === undefined) return DEFAULT_SETTINGS[key] as boolean;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new SettingsError(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
  };

  const stackName = get('stackName') ?? DEFAULT_SETTINGS.stackName;
  if (typeof stackName !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new SettingsError(
      `context stackName must start with a letter and hold only letters, digits and '-', got ${JSON.stringify(stackName)}`,
    );
  }
  const logRetentionDays = integer('logRetentionDays', 1, 3653);
  if (!RETENTION_DAYS.has(logRetentionDays)) {
    throw new SettingsError(
      `context logRetentionDays must be one of ${[...RETENTION_DAYS].sort((a, b) => a - b).join(', ')}`,
    );
  }
  const settings: WirefleetSettings = {
    stackName,
    deletionProtection: boolean('deletionProtection'),
    pcapRetentionDays: integer('pcapRetentionDays', 1, 3650),
    accessLogRetentionDays: integer('accessLogRetentionDays', 1, 3650),
    logRetentionDays,
    // API Gateway's account-level defaults are 10,000 rps and a 5,000 burst.
    apiRateLimit: integer('apiRateLimit', 1, 10_000),
    apiBurstLimit: integer('apiBurstLimit', 1, 5_000),
    pcapUrlTtlSeconds: integer('pcapUrlTtlSeconds', 1, 900),
  };
  return settings;
}
