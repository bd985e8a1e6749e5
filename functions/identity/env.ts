import { IoTClient } from '@aws-sdk/client-iot';
import type { Logger } from '../logger.js';
import { AwsIotIdentity } from './aws-iot.js';
import {
  type AgentIdentityProvider,
  type CertificateRegistry,
  IdentityConfigError,
} from './provider.js';

/**
 * The identity provider the environment asks for. AGENT_IDENTITY=aws-iot
 * (set by the CDK stack) needs IOT_DATA_ENDPOINT and IOT_AGENT_POLICY;
 * IOT_THING_PREFIX defaults to `wirefleet-`. Unset: none (the local stack
 * passes its own CA instead). A half-configured deployment fails at start.
 */

export const DEFAULT_THING_PREFIX = 'wirefleet-';
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
/** Thing names are [a-zA-Z0-9:_-]{1,128}; agent ids take up to 63 of them. */
const THING_PREFIX = /^[A-Za-z0-9:_-]{0,64}$/;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export function agentIdentityFromEnv(
  env: NodeJS.ProcessEnv,
  registry: CertificateRegistry,
  options: { logger: Logger; region?: string; iot?: IoTClient },
): AgentIdentityProvider | undefined {
  const kind = env.AGENT_IDENTITY;
  if (kind === undefined || kind === '') return undefined;
  if (kind !== 'aws-iot') {
    throw new IdentityConfigError(
      `AGENT_IDENTITY="${kind}" is not known (use aws-iot, or leave it unset)`,
    );
  }
  const dataEndpoint = env.IOT_DATA_ENDPOINT ?? '';
  if (!HOST.test(dataEndpoint)) {
    throw new IdentityConfigError(
      'AGENT_IDENTITY=aws-iot needs IOT_DATA_ENDPOINT, the ATS endpoint host without a scheme (e.g. abc123-ats.iot.eu-west-1.amazonaws.com)',
    );
  }
  const policyName = env.IOT_AGENT_POLICY ?? '';
  if (!POLICY_NAME.test(policyName)) {
    throw new IdentityConfigError(
      'AGENT_IDENTITY=aws-iot needs IOT_AGENT_POLICY, the IoT policy name',
    );
  }
  const thingPrefix = env.IOT_THING_PREFIX ?? DEFAULT_THING_PREFIX;
  if (!THING_PREFIX.test(thingPrefix)) {
    throw new IdentityConfigError(
      `IOT_THING_PREFIX="${thingPrefix}" is not a valid thing-name prefix`,
    );
  }
  return new AwsIotIdentity({
    iot: options.iot ?? new IoTClient(options.region ? { region: options.region } : {}),
    registry,
    dataEndpoint,
    policyName,
    thingPrefix,
    logger: options.logger,
  });
}
