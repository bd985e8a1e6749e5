import { urlTtlFromEnv } from '../../functions/api/deps.js';
import { startLocalStack } from '../local/stack.js';
import { dataDirFromEnv, portFromEnv } from './options.js';

/** `wirefleet dev`: the local stack in the foreground until Ctrl-C or SIGTERM. */
export async function runDev(): Promise<void> {
  const dataDir = dataDirFromEnv();
  const stack = await startLocalStack({
    dataDir,
    host: process.env.HOST ?? '127.0.0.1',
    port: portFromEnv('PORT', 8000),
    dynamoPort: portFromEnv('DYNAMODB_PORT', 4567),
    s3Port: portFromEnv('S3_PORT', 4568),
    ...(process.env.DYNAMODB_ENDPOINT ? { dynamoEndpoint: process.env.DYNAMODB_ENDPOINT } : {}),
    ...(process.env.S3_ENDPOINT ? { s3Endpoint: process.env.S3_ENDPOINT } : {}),
    ...(process.env.WIREFLEET_API_TOKEN ? { apiToken: process.env.WIREFLEET_API_TOKEN } : {}),
    urlTtlSeconds: urlTtlFromEnv(),
  });
  // performance.now() counts from process start, so this includes loading the code.
  const seconds = (performance.now() / 1000).toFixed(2);
  const tokenLine =
    stack.tokenSource === 'env'
      ? '  API token  from WIREFLEET_API_TOKEN'
      : `  API token  ${stack.token}   (kept in ${dataDir}/api-token)`;
  process.stderr.write(
    [
      '',
      `wirefleet local stack ready in ${seconds}s`,
      `  API        ${stack.apiUrl}/api/v1`,
      `  Docs       ${stack.apiUrl}/docs`,
      `  OpenAPI    ${stack.apiUrl}/openapi.json`,
      `  DynamoDB   ${stack.dynamoEndpoint}`,
      `  S3         ${stack.s3Endpoint}`,
      `  Data       ${dataDir}`,
      tokenLine,
      '',
      `  curl -s -X POST ${stack.apiUrl}/api/v1/route -H "Authorization: Bearer $TOKEN" \\`,
      `       -H 'Content-Type: application/json' -d '{"query":"Write a Python function"}'`,
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n${signal}: stopping...\n`);
      stack.stop().then(resolve, (error) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
