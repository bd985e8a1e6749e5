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
  /**
   * The console's own domain (e.g. console.example.com) and the ARN of an ACM
   * certificate for it in us-east-1 (CloudFront reads certificates only
   * there): both or neither. Without them the console is served at the
   * distribution's *.cloudfront.net name.
   */
  consoleDomainName?: string;
  consoleCertificateArn?: string;
  /** Which CloudFront edge locations serve the console; PriceClass_100 when unset. */
  consolePriceClass?: ConsolePriceClass;
  /** An AWS WAF web ACL (scope CLOUDFRONT, so in us-east-1) for the console's distribution. */
  consoleWebAclArn?: string;
}

/** CloudFront's price classes: 100 (North America, Europe, Israel), 200 (and most of Asia, Africa, the Middle East), All. */
export const CONSOLE_PRICE_CLASSES = [
  'PriceClass_100',
  'PriceClass_200',
  'PriceClass_All',
] as const;
export type ConsolePriceClass = (typeof CONSOLE_PRICE_CLASSES)[number];
export const DEFAULT_CONSOLE_PRICE_CLASS: ConsolePriceClass = 'PriceClass_100';

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
    ...consoleSettings(get),
  };
  return settings;
}

/** A DNS name of letters, digits and hyphens, at least two labels, lower case. */
const DOMAIN_NAME = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
/** An ACM certificate in us-east-1, the only region CloudFront takes certificates from. */
const CLOUDFRONT_CERTIFICATE_ARN =
  /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;
/** A WAFv2 web ACL for CloudFront: scope CLOUDFRONT lives in us-east-1 as global/webacl. */
const CLOUDFRONT_WEB_ACL_ARN =
  /^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[\w-]{1,128}\/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;

function consoleSettings(
  get: (key: string) => unknown,
): Pick<
  WirefleetSettings,
  'consoleDomainName' | 'consoleCertificateArn' | 'consolePriceClass' | 'consoleWebAclArn'
> {
  const domainName = get('consoleDomainName');
  const certificateArn = get('consoleCertificateArn');
  const priceClass = get('consolePriceClass');
  const result: ReturnType<typeof consoleSettings> = {};
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new SettingsError(
      'context consoleDomainName and consoleCertificateArn go together: the certificate must cover the domain',
    );
  }
  if (domainName !== undefined) {
    if (typeof domainName !== 'string' || !DOMAIN_NAME.test(domainName)) {
      throw new SettingsError(
        `context consoleDomainName must be a lower-case DNS name such as console.example.com, got ${JSON.stringify(domainName)}`,
      );
    }
    if (typeof certificateArn !== 'string' || !CLOUDFRONT_CERTIFICATE_ARN.test(certificateArn)) {
      throw new SettingsError(
        `context consoleCertificateArn must be an ACM certificate ARN in us-east-1 (CloudFront uses no other region), got ${JSON.stringify(certificateArn)}`,
      );
    }
    result.consoleDomainName = domainName;
    result.consoleCertificateArn = certificateArn;
  }
  if (priceClass !== undefined) {
    // 100, "200", "all" or CloudFront's own PriceClass_100.
    const short = String(priceClass).replace(/^PriceClass_/, '');
    const value = `PriceClass_${short.toLowerCase() === 'all' ? 'All' : short}`;
    if (!CONSOLE_PRICE_CLASSES.includes(value as ConsolePriceClass)) {
      throw new SettingsError(
        `context consolePriceClass must be 100, 200 or All, got ${JSON.stringify(priceClass)}`,
      );
    }
    result.consolePriceClass = value as ConsolePriceClass;
  }
  const webAclArn = get('consoleWebAclArn');
  if (webAclArn !== undefined) {
    if (typeof webAclArn !== 'string' || !CLOUDFRONT_WEB_ACL_ARN.test(webAclArn)) {
      throw new SettingsError(
        `context consoleWebAclArn must be a WAFv2 web ACL ARN with scope CLOUDFRONT (arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>), got ${JSON.stringify(webAclArn)}`,
      );
    }
    result.consoleWebAclArn = webAclArn;
  }
  return result;
}
