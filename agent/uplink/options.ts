import type { IClientOptions } from 'mqtt';
import { AGENT_ID_PATTERN } from '../../protocol/agent-messages.js';
import { MQTT_CLIENT_ID_PATTERN } from '../config/schema.js';
import type { AgentConfig } from '../config.js';
import type { AgentLogger } from '../log.js';

export interface UplinkOptions {
  /** mqtt://, mqtts://, ws:// or wss://. */
  url: string;
  agentId: string;
  /** MQTT client id; default agentId. In AWS IoT it is the thing name. */
  clientId?: string | undefined;
  username?: string | null | undefined;
  /** The caller reads it (e.g. from a token file). */
  password?: string | null | undefined;
  /** mTLS material (null or undefined: none). */
  ca?: string | Buffer | null | undefined;
  cert?: string | Buffer | null | undefined;
  key?: string | Buffer | null | undefined;
  keepaliveSec?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Unacknowledged spool publishes at once (AWS IoT allows 100). */
  maxInFlight?: number;
  connectTimeoutMs?: number;
  /**
   * Base wait for a PUBACK; each publish also gets the time its share of the
   * bytes in flight needs at minLinkBytesPerSec. When it runs out the
   * connection is recycled (not a strike against the entry).
   */
  ackTimeoutMs?: number;
  /** The slowest link the ack timeout allows for (default 16 KiB/s: 1 s per 16 KiB in flight). */
  minLinkBytesPerSec?: number;
  /** Failures of one entry, sent alone, before it is parked in rejected/. */
  rejectAfter?: number;
  protocolVersion?: 4 | 5;
  logger: AgentLogger;
  /** For the backoff jitter (tests). */
  random?: () => number;
}

export class UplinkConfigError extends Error {
  override readonly name = 'UplinkConfigError';
}

/** The options with every tunable checked and defaulted. */
export type ResolvedUplinkOptions = Required<
  Pick<
    UplinkOptions,
    | 'keepaliveSec'
    | 'reconnectMinMs'
    | 'reconnectMaxMs'
    | 'maxInFlight'
    | 'connectTimeoutMs'
    | 'ackTimeoutMs'
    | 'minLinkBytesPerSec'
    | 'rejectAfter'
    | 'protocolVersion'
  >
> &
  UplinkOptions;

const PROTOCOLS = new Set(['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:']);

/** Checks the agent id, URL and numbers; throws UplinkConfigError on the first bad one. */
export function resolveUplinkOptions(options: UplinkOptions): ResolvedUplinkOptions {
  if (!AGENT_ID_PATTERN.test(options.agentId)) {
    throw new UplinkConfigError(`invalid agent id "${options.agentId}"`);
  }
  if (options.clientId !== undefined && !MQTT_CLIENT_ID_PATTERN.test(options.clientId)) {
    throw new UplinkConfigError(`invalid MQTT client id "${options.clientId}"`);
  }
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new UplinkConfigError(`invalid broker URL "${options.url}"`);
  }
  if (!PROTOCOLS.has(url.protocol)) {
    throw new UplinkConfigError(
      `unsupported broker URL scheme "${url.protocol}" (use mqtt:, mqtts:, ws: or wss:)`,
    );
  }
  const positive = (name: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0) {
      throw new UplinkConfigError(`uplink ${name} must be a positive number, got ${v}`);
    }
    return v;
  };
  return {
    ...options,
    keepaliveSec: positive('keepaliveSec', options.keepaliveSec, 30),
    maxInFlight: Math.floor(positive('maxInFlight', options.maxInFlight, 20)),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    ackTimeoutMs: positive('ackTimeoutMs', options.ackTimeoutMs, 30_000),
    minLinkBytesPerSec: positive('minLinkBytesPerSec', options.minLinkBytesPerSec, 16 * 1024),
    rejectAfter: Math.floor(positive('rejectAfter', options.rejectAfter, 5)),
    protocolVersion: options.protocolVersion ?? 4,
    reconnectMinMs: positive('reconnectMinMs', options.reconnectMinMs, 500),
    reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs, 30_000),
  };
}

/**
 * MQTT.js options for one connection: no automatic reconnect, since the
 * uplink reconnects itself with backoff and a fresh client (see uplink.ts).
 * The session persists (clean: false) so the broker queues commands sent
 * while the agent is away; the daemon answers stale ones 'expired'.
 * With a client certificate and no password the certificate is the identity,
 * so no username is sent (AWS IoT and the local broker read the certificate).
 */
export function mqttClientOptions(o: ResolvedUplinkOptions): IClientOptions {
  const certificateLogin = o.cert != null && o.password == null;
  return {
    clientId: o.clientId ?? o.agentId,
    clean: false,
    reconnectPeriod: 0,
    keepalive: o.keepaliveSec,
    connectTimeout: o.connectTimeoutMs,
    protocolVersion: o.protocolVersion,
    resubscribe: false,
    queueQoSZero: false,
    ...(o.username != null && !certificateLogin ? { username: o.username } : {}),
    ...(o.password != null ? { password: o.password } : {}),
    ...(o.ca != null ? { ca: o.ca } : {}),
    ...(o.cert != null ? { cert: o.cert } : {}),
    ...(o.key != null ? { key: o.key } : {}),
  };
}

/** The uplink options an agent config describes (what the daemon runs with). */
export function uplinkOptionsFromConfig(
  config: Pick<AgentConfig, 'agent_id' | 'mqtt'>,
  logger: AgentLogger,
): UplinkOptions {
  const { mqtt } = config;
  return {
    url: mqtt.url,
    agentId: config.agent_id,
    clientId: mqtt.client_id,
    username: mqtt.username,
    password: mqtt.password,
    ca: mqtt.ca,
    cert: mqtt.cert,
    key: mqtt.key,
    keepaliveSec: mqtt.keepalive_sec,
    reconnectMinMs: mqtt.reconnect_min_ms,
    reconnectMaxMs: mqtt.reconnect_max_ms,
    logger,
  };
}
