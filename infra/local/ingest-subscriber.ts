import mqtt, { type MqttClient } from 'mqtt';
import type { CommandPublisher, DownlinkPublisher } from '../../functions/api/command-publisher.js';
import { type IngestDeps, ingestMessage } from '../../functions/ingest/index.js';
import type { Logger } from '../../functions/logger.js';
import { StoreUnavailableError } from '../../functions/store/errors.js';
import {
  type AgentCommand,
  agentTopic,
  type DownlinkChannel,
  TOPIC_ROOT,
  UPLINK_CHANNELS,
} from '../../protocol/agent-messages.js';

/**
 * The local stand-in for the IoT topic rule: subscribes to every agent's
 * uplink and hands each message to the same ingestMessage the Lambda runs.
 * The PUBACK goes out only after the message is stored, so a store outage
 * holds messages at the broker instead of losing them.
 */
export interface IngestSubscriberOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /**
   * Stable across restarts: with a persistent session the broker keeps the
   * subscription and queues QoS 1 messages while the subscriber is away, so
   * an agent that reconnects first does not publish into the void.
   */
  clientId: string;
  deps: IngestDeps;
  logger: Logger;
}

export interface IngestSubscriber extends CommandPublisher, DownlinkPublisher {
  stats(): {
    messages: number;
    stored: number;
    duplicates: number;
    rejected: number;
    retries: number;
    /** Flow records written (first copies only). */
    records: number;
    /** Connected and subscribed to every uplink channel right now. */
    subscribed: boolean;
    /** Messages being written to the store right now (not yet acknowledged to the broker). */
    in_flight: number;
  };
  /**
   * Waits up to drainMs for the messages being written (their PUBACK follows the
   * write), then disconnects. A write that fails meanwhile is not retried: the
   * broker still has the message and delivers it again next time.
   */
  stop(options?: { drainMs?: number }): Promise<void>;
}

const RETRY_MAX_MS = 5000;
const COMMAND_PUBLISH_TIMEOUT_MS = 5000;

export async function startIngestSubscriber(
  options: IngestSubscriberOptions,
): Promise<IngestSubscriber> {
  const { logger } = options;
  const counts = { messages: 0, stored: 0, duplicates: 0, rejected: 0, retries: 0, records: 0 };
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const ingest = async (topic: string, payload: Buffer) => {
    counts.messages++;
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await ingestMessage(options.deps, topic, payload);
        if (outcome.status === 'rejected') counts.rejected++;
        else if (outcome.status === 'duplicate') counts.duplicates++;
        else counts.stored++;
        counts.records += outcome.written ?? 0;
        return;
      } catch (error) {
        // Only an unreachable store gets here (ingestMessage rejects bad input itself).
        if (stopping) throw error;
        counts.retries++;
        const delay = Math.min(RETRY_MAX_MS, 100 * 2 ** attempt);
        logger.warn('ingest retry', {
          topic,
          attempt,
          delay_ms: delay,
          error: (error as Error).message,
          unavailable: error instanceof StoreUnavailableError,
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  const client: MqttClient = await mqtt.connectAsync(options.url, {
    clientId: options.clientId,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    clean: false,
    resubscribe: false,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  // mqtt.js sends the PUBACK once handleMessage calls back: ack after storing.
  client.handleMessage = (packet, callback) => {
    const writing = ingest(packet.topic, packet.payload as Buffer).then(
      () => callback(),
      (error: Error) => callback(error),
    );
    inFlight.add(writing);
    void writing.finally(() => inFlight.delete(writing));
  };
  client.on('error', (error) => {
    if (!stopping) logger.warn('ingest mqtt error', { error: error.message });
  });
  // Subscribe on every connect: a broker that lost our session (restarted without
  // persistence) must learn the subscription again before agents' messages arrive.
  let subscribed = false;
  const subscribe = () =>
    client
      .subscribeAsync(
        UPLINK_CHANNELS.map((channel) => `${TOPIC_ROOT}/+/${channel}`),
        { qos: 1 },
      )
      .then(() => {
        subscribed = client.connected;
      });
  client.on('close', () => {
    subscribed = false;
  });
  client.on('connect', () => {
    subscribe().catch((error: Error) =>
      logger.warn('ingest resubscribe failed', { error: error.message }),
    );
  });
  await subscribe();
  logger.info('ingest subscriber started', { url: options.url });

  // Commands go out on their own connection: the subscriber's handles one
  // incoming message at a time, so a PUBACK for a command would wait behind
  // any ingest backlog or retry.
  const commands = await mqtt.connectAsync(options.url, {
    clientId: `${options.clientId}_cmd`,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  commands.on('error', (error) => {
    if (!stopping) logger.warn('command publisher mqtt error', { error: error.message });
  });

  const publishDownlink = async (agentId: string, channel: DownlinkChannel, message: object) => {
    // mqtt.js would queue a QoS 1 publish while disconnected and settle only on
    // PUBACK; an API request must not wait for a broker that is not there.
    if (!commands.connected) throw new Error('the MQTT broker is not connected');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no PUBACK within ${COMMAND_PUBLISH_TIMEOUT_MS} ms`)),
        COMMAND_PUBLISH_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([
        commands.publishAsync(agentTopic(agentId, channel), JSON.stringify(message), {
          qos: 1,
        }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    stats: () => ({ ...counts, subscribed, in_flight: inFlight.size }),
    publish: (agentId: string, command: AgentCommand) =>
      publishDownlink(agentId, 'commands', command),
    publishDownlink,
    async stop({ drainMs = 10_000 } = {}) {
      stopping = true;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      });
      await Promise.race([Promise.allSettled([...inFlight]), bound]);
      clearTimeout(timer);
      if (inFlight.size > 0) {
        logger.warn('ingest stopped with writes in flight; the broker delivers them again', {
          in_flight: inFlight.size,
          drain_ms: drainMs,
        });
      }
      await commands.endAsync(true);
      await client.endAsync();
    },
  };
}
