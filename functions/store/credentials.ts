/**
 * Which credentials a store client uses, decided in one place for the API,
 * ingest, the Lambda functions and the CLI:
 * - no endpoint, or an AWS endpoint (`*.amazonaws.com`): the SDK's standard
 *   chain (environment, AWS_PROFILE / `aws configure` files, SSO, container
 *   and instance roles). The Lambda functions always land here.
 * - any other explicit endpoint (dynalite, s3rver, DynamoDB Local, loopback
 *   or not): fixed local credentials, unless real ones are configured in the
 *   environment, which then win.
 */

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** DynamoDB emulators ignore credentials, but the SDK insists on some. */
export const LOCAL_DYNAMODB_CREDENTIALS: StaticCredentials = {
  accessKeyId: 'local',
  secretAccessKey: 'local',
};
/** s3rver accepts only its own key pair for signed requests. */
export const LOCAL_S3_CREDENTIALS: StaticCredentials = {
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
};

/** What to tell someone whose AWS credentials the chain cannot find. */
export const CREDENTIALS_HINT =
  'set AWS_PROFILE to a profile made with `aws configure` (or `aws configure sso`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys)';

/** The standard chain found no credentials for a call that needs AWS. */
export class MissingCredentialsError extends Error {
  override readonly name = 'MissingCredentialsError';
  constructor(what: string, options?: { cause?: unknown }) {
    super(`no AWS credentials found for ${what}: ${CREDENTIALS_HINT}`, options);
  }
}

/** True for AWS's own service endpoints, which need real credentials. */
export function isAwsEndpoint(endpoint: string): boolean {
  try {
    return /\.amazonaws\.com(\.cn)?$/i.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** Credentials the environment names explicitly: keys, a profile, a web identity, a container role. */
export function hasConfiguredCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(
    (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) ||
      env.AWS_PROFILE ||
      env.AWS_WEB_IDENTITY_TOKEN_FILE ||
      env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ||
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
  );
}

/**
 * Explicit credentials for a client pointed at `endpoint`, or undefined for
 * the SDK's standard chain.
 */
export function endpointCredentials(
  endpoint: string | undefined,
  service: 'dynamodb' | 's3',
  env: NodeJS.ProcessEnv = process.env,
): StaticCredentials | undefined {
  if (!endpoint || isAwsEndpoint(endpoint) || hasConfiguredCredentials(env)) return undefined;
  return service === 's3' ? LOCAL_S3_CREDENTIALS : LOCAL_DYNAMODB_CREDENTIALS;
}

/** The SDK's "no credentials anywhere in the chain", however deep it is wrapped. */
export function isMissingCredentials(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { name, message } = e as { name?: string; message?: string };
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message ?? '')) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Resolves a client's credentials before any work is done, so a missing
 * configuration is one clear line instead of a failure halfway through.
 */
export async function requireCredentials(
  client: { config: { credentials: () => Promise<unknown> } },
  what: string,
): Promise<void> {
  try {
    await client.config.credentials();
  } catch (error) {
    if (isMissingCredentials(error)) throw new MissingCredentialsError(what, { cause: error });
    throw error;
  }
}
