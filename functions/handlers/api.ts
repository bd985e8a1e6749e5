import { handle } from 'hono/aws-lambda';
import { createApp } from '../api/app.js';
import { createAppDeps, urlTtlFromEnv } from '../api/deps.js';
import { storeConfigFromEnv } from '../store/config.js';

/**
 * Lambda entry point (API Gateway HTTP API v2): the same Hono app as the
 * local server. Clients are created once per execution environment.
 */
const app = createApp(
  createAppDeps(storeConfigFromEnv(), {
    urlTtlSeconds: urlTtlFromEnv(),
    ...(process.env.MQTT_PUBLIC_URL ? { mqttUrl: process.env.MQTT_PUBLIC_URL } : {}),
  }),
);

export const handler = handle(app);
