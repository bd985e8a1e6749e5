import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { Logger } from '../../functions/logger.js';
import {
  AGENT_ID_PATTERN,
  agentTopic,
  parseAgentTopic,
  TOPIC_ROOT,
  UPLINK_CHANNELS,
} from '../../protocol/agent-messages.js';

/**
 * The local stand-in for AWS IoT Core: an embedded aedes broker with the same
 * rules the cloud's IoT policy enforces. An agent logs in with its id and the
 * password `wirefleet agent register` issued, its client id must equal its
 * agent id, and it may publish only its own uplink topics and subscribe only
 * to its own commands, never retained. The in-process ingest subscriber logs in as a service
 * user whose name no agent can take ('$' is not allowed in agent ids).
 */
export const SERVICE_USERNAME = '$wirefleet-ingest';

export interface BrokerAuth {
  /** True when the password is the agent's current one. */
  verifyAgent(agentId: string, password: string): Promise<boolean>;
}

export interface LocalBrokerOptions {
  host: string;
  port: number;
  auth: BrokerAuth;
  logger: Logger;
}

export interface LocalBroker {
  url: string;
  port: number;
  /** Credentials for the in-process service client (never leave this process). */
  service: { username: string; password: string };
  /** Publishes and subscriptions the broker refused (authorisation). */
  refused(): { connects: number; publishes: number; subscribes: number };
  stop(): Promise<void>;
}

class NotAuthorizedError extends Error {
  override readonly name = 'NotAuthorizedError';
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export async function startLocalBroker(options: LocalBrokerOptions): Promise<LocalBroker> {
  const { logger } = options;
  const service = { username: SERVICE_USERNAME, password: randomBytes(24).toString('base64url') };
  const refused = { connects: 0, publishes: 0, subscribes: 0 };
  // Who each connection authenticated as; aedes hands the same Client object to every hook.
  const identities = new WeakMap<Client, { kind: 'service' } | { kind: 'agent'; id: string }>();

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const secret = password?.toString('utf8') ?? '';
      if (username === service.username && sameSecret(secret, service.password)) {
        identities.set(client, { kind: 'service' });
        return done(null, true);
      }
      const agentId = username ?? '';
      if (!AGENT_ID_PATTERN.test(agentId) || client.id !== agentId) {
        refused.connects++;
        logger.warn('mqtt connect refused', {
          client_id: client.id,
          username: agentId,
          reason: 'the client id must equal the agent id',
        });
        return done(null, false);
      }
      options.auth.verifyAgent(agentId, secret).then(
        (ok) => {
          if (ok) identities.set(client, { kind: 'agent', id: agentId });
          else {
            refused.connects++;
            logger.warn('mqtt connect refused', { agent_id: agentId, reason: 'bad credentials' });
          }
          done(null, ok);
        },
        (error: Error) => {
          // The registry is unreachable: refuse for now; the agent retries with backoff.
          refused.connects++;
          logger.error('mqtt auth lookup failed', { agent_id: agentId, error: error.message });
          done(null, false);
        },
      );
    },
    authorizePublish(client, packet, done) {
      const who = client ? identities.get(client) : undefined;
      const target = parseAgentTopic(packet.topic);
      // Retained messages would be replayed to the ingest subscriber at every resubscribe.
      const allowed =
        !packet.retain &&
        (who?.kind === 'service'
          ? target?.channel === 'commands'
          : who?.kind === 'agent' &&
            target?.agentId === who.id &&
            (UPLINK_CHANNELS as readonly string[]).includes(target.channel));
      if (allowed) return done(null);
      refused.publishes++;
      logger.warn('mqtt publish refused', { client_id: client?.id, topic: packet.topic });
      done(new NotAuthorizedError(`not allowed to publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, subscription, done) {
      const who = client ? identities.get(client) : undefined;
      const allowed =
        who?.kind === 'service'
          ? subscription.topic.startsWith(`${TOPIC_ROOT}/`)
          : who?.kind === 'agent' && subscription.topic === agentTopic(who.id, 'commands');
      if (allowed) return done(null, subscription);
      refused.subscribes++;
      logger.warn('mqtt subscribe refused', { client_id: client?.id, topic: subscription.topic });
      done(new NotAuthorizedError(`not allowed to subscribe to ${subscription.topic}`), null);
    },
  });

  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `mqtt://${options.host}:${port}`;
  logger.info('mqtt broker started', { url });
  return {
    url,
    port,
    service,
    refused: () => ({ ...refused }),
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
