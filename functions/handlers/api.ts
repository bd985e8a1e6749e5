import { handle } from 'hono/aws-lambda';
import { createApp } from '../api/app.js';
import { createAppDeps, urlTtlFromEnv, windowRequestLimitsFromEnv } from '../api/deps.js';
import { iotCommandPublisherFromEnv } from '../api/iot-command-publisher.js';
import { agentIdentityFromEnv } from '../identity/env.js';
import { createLogger } from '../logger.js';
import { lambdaExportRunnerFromEnv } from '../pcap/lambda-export-runner.js';
import { storeConfigFromEnv } from '../store/config.js';

/**
 * Lambda entry point (API Gateway HTTP API v2): the same Hono app as the
 * local server. Clients are created once per execution environment.
 */
const config = storeConfigFromEnv();
// Commands go out through the IoT Data Plane when IOT_DATA_ENDPOINT is set.
const commandPublisher = iotCommandPublisherFromEnv(process.env, { region: config.region });
// Large PCAP downloads become jobs for the pcap-export function when PCAP_EXPORT_FUNCTION is set.
const exportRunner = lambdaExportRunnerFromEnv(process.env, { region: config.region });
const app = createApp(
  createAppDeps(config, {
    urlTtlSeconds: urlTtlFromEnv(),
    windowRequestLimits: windowRequestLimitsFromEnv(),
    ...(commandPublisher ? { commandPublisher } : {}),
    ...(exportRunner ? { exportRunner } : {}),
    ...(process.env.MQTT_PUBLIC_URL ? { mqttUrl: process.env.MQTT_PUBLIC_URL } : {}),
    // Agent certificates from AWS IoT when AGENT_IDENTITY=aws-iot.
    identity: (agents) =>
      agentIdentityFromEnv(process.env, agents, {
        region: config.region,
        logger: createLogger('identity'),
      }),
  }),
);

export const handler = handle(app);
