/**
 * Sets environment variables for a test (undefined removes one) and returns what puts every one
 * back as it was: for Lambda handlers, which read their configuration from process.env.
 */
export function setProcessEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  return () => apply(saved);
}

/** What the ingest handler needs to run against dynalite here, with throwaway credentials. */
export function localIngestEnv(dynamoEndpoint: string): Record<string, string> {
  return {
    DYNAMODB_ENDPOINT: dynamoEndpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'error',
  };
}
