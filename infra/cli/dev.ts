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
    mqttPort: portFromEnv('MQTT_PORT', 1883),
    ...(process.env.MQTTS_PORT ? { mqttTlsPort: portFromEnv('MQTTS_PORT', 8883) } : {}),
    ...(process.env.MQTT_URL
      ? {
          mqttUrl: process.env.MQTT_URL,
          mqttUsername: process.env.MQTT_INGEST_USERNAME,
          mqttPassword: process.env.MQTT_INGEST_PASSWORD,
        }
      : {}),
    localAgent: process.env.WIREFLEET_LOCAL_AGENT !== 'off',
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
      `  MQTT       ${stack.mqttUrl}`,
      ...(stack.mqttsUrl
        ? [
            `  MQTTS      ${stack.mqttsUrl}   (agents: client certificate from the local CA ${stack.caFile})`,
          ]
        : []),
      stack.agent
        ? `  Agent      ${stack.agent.agentId} (${stack.agent.mode === 'loopback' ? 'capturing on lo' : 'replaying a generated capture'}), control API http://127.0.0.1:8001 (token in ${dataDir}/agent/control-token)`
        : '  Agent      off (WIREFLEET_LOCAL_AGENT=off)',
      `  Data       ${dataDir}`,
      tokenLine,
      '',
      `  curl -s -X POST ${stack.apiUrl}/api/v1/route -H "Authorization: Bearer $TOKEN" \\`,
      `       -H 'Content-Type: application/json' -d '{"query":"Write a Python function"}'`,
      `  curl -s '${stack.apiUrl}/api/v1/flows?limit=5&sort_by=bytes' -H "Authorization: Bearer $TOKEN"`,
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
