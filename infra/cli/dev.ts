import { urlTtlFromEnv, windowRequestLimitsFromEnv } from '../../functions/api/deps.js';
import { DEFAULT_DRAIN_MS, type LocalStack, startLocalStack } from '../local/stack.js';
import { dataDirFromEnv, portFromEnv, UsageError } from './options.js';
import { FORCED_EXIT_STATUS, onStopSignals, type StopSignal } from './stop-signals.js';

/** WIREFLEET_DRAIN_SECONDS: how long a stop waits for requests in flight (0-600, default 10). */
export function drainMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WIREFLEET_DRAIN_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_DRAIN_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 600) {
    throw new UsageError(`WIREFLEET_DRAIN_SECONDS must be 0-600 seconds, got "${raw}"`);
  }
  return Math.round(seconds * 1000);
}

/** `wirefleet dev`: the local stack in the foreground until Ctrl-C or SIGTERM. */
export async function runDev(): Promise<void> {
  const dataDir = dataDirFromEnv();
  const drainMs = drainMsFromEnv();
  const controlPort = portFromEnv('AGENT_CONTROL_PORT', 8001);
  // Signals are caught from the start: a stop during start-up is carried out once the
  // stack is up (half-started emulators are never killed mid-write); a second one ends
  // the process at once, whatever it is doing.
  let stack: LocalStack | undefined;
  let firstSignal: ((signal: StopSignal) => void) | undefined;
  let pending: StopSignal | undefined;
  let stopped = false;
  const removeHandlers = onStopSignals({
    stop(signal) {
      if (firstSignal) firstSignal(signal);
      else pending = signal;
    },
    force(signal) {
      if (!stopped) forceExit(signal, stack);
    },
  });
  process.stderr.write(`wirefleet: starting the local stack in ${dataDir} ...\n`);

  try {
    stack = await startLocalStack({
      dataDir,
      host: process.env.HOST ?? '127.0.0.1',
      port: portFromEnv('PORT', 8000),
      dynamoPort: portFromEnv('DYNAMODB_PORT', 4567),
      s3Port: portFromEnv('S3_PORT', 4568),
      ...(process.env.DYNAMODB_ENDPOINT ? { dynamoEndpoint: process.env.DYNAMODB_ENDPOINT } : {}),
      ...(process.env.S3_ENDPOINT ? { s3Endpoint: process.env.S3_ENDPOINT } : {}),
      ...(process.env.WIREFLEET_API_TOKEN ? { apiToken: process.env.WIREFLEET_API_TOKEN } : {}),
      urlTtlSeconds: urlTtlFromEnv(),
      windowRequestLimits: windowRequestLimitsFromEnv(),
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
      localAgentControlPort: controlPort,
      drainMs,
      // The web console at `/`, built first when web/dist is missing or older than web/src.
      ...(process.env.WIREFLEET_CONSOLE === 'off' ? {} : { console: {} }),
    });
  } catch (error) {
    removeHandlers();
    throw error;
  }
  const running = stack;
  const signal =
    pending ??
    (await new Promise<StopSignal>((resolve) => {
      printBanner(running, dataDir, controlPort);
      firstSignal = resolve;
    }));
  process.stderr.write(
    `\n${signal}: stopping: no new connections; ${running.inFlight()} request(s) in flight get up to ${drainMs / 1000} s; Ctrl-C or SIGTERM again stops at once\n`,
  );
  const { drained, cut } = await running.stop();
  // A signal after this finds nothing left to stop.
  stopped = true;
  const bound = cut > 0 ? `, ${cut} cut at the ${drainMs / 1000} s bound` : '';
  process.stderr.write(
    `wirefleet local stack stopped (${drained} request(s) answered while draining${bound})\n`,
  );
}

/** The second signal: one line, the local agent asked to stop too, and out. */
function forceExit(signal: StopSignal, stack: LocalStack | undefined): never {
  const code = FORCED_EXIT_STATUS[signal];
  const cut = stack ? `, cutting ${stack.inFlight()} request(s) in flight` : '';
  process.stderr.write(
    `wirefleet: ${signal} again while stopping: exiting now (status ${code})${cut}\n`,
  );
  // The agent is a child process and would outlive us; its spool survives any stop.
  const agentPid = stack?.agent?.pid;
  if (agentPid) {
    try {
      process.kill(agentPid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  process.exit(code);
}

/** The console's URL, or why there is none. */
function consoleLine(stack: LocalStack): string {
  const c = stack.console;
  if (!c) return '  Console    off (WIREFLEET_CONSOLE=off)';
  if (c.unavailable)
    return `  Console    unavailable: ${c.unavailable} (npm run build:web shows why)`;
  if (c.staleBecause)
    return `  Console    ${stack.apiUrl}/   (an older build: ${c.staleBecause}; npm run build:web shows why)`;
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const built = c.built
    ? `   (built in ${(c.built.ms / 1000).toFixed(1)} s: JS ${kib(c.built.jsGzip)} gzip, CSS ${kib(c.built.cssGzip)} gzip)`
    : '';
  return `  Console    ${stack.apiUrl}/   <- open this, sign in with the API token below${built}`;
}

function printBanner(stack: LocalStack, dataDir: string, controlPort: number): void {
  // performance.now() counts from process start, so this includes loading the code.
  const seconds = (performance.now() / 1000).toFixed(2);
  const tokenLine =
    stack.tokenSource === 'env'
      ? '  API token  from WIREFLEET_API_TOKEN'
      : `  API token  ${stack.token}   (kept in ${dataDir}/api-token)`;
  const control =
    controlPort === 0 ? 'on a free port (see its log)' : `http://127.0.0.1:${controlPort}`;
  process.stderr.write(
    [
      '',
      `wirefleet local stack ready in ${seconds}s`,
      consoleLine(stack),
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
        ? `  Agent      ${stack.agent.agentId} (${stack.agent.mode === 'loopback' ? 'capturing on lo' : 'replaying a generated capture'}), control API ${control} (token in ${dataDir}/agent/control-token)`
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
}
