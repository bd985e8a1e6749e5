import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Logger } from '../../functions/logger.js';
import {
  AGENT_ID_PATTERN,
  agentTopic,
  DOWNLINK_CHANNELS,
  isDownlinkChannel,
  parseAgentTopic,
  TOPIC_ROOT,
  UPLINK_CHANNELS,
} from '../../protocol/agent-messages.js';

/**
 * The local stand-in for AWS IoT Core: an embedded aedes broker with the same
 * rules the cloud's IoT policy enforces. Agents connect over TLS with the
 * client certificate the local CA signed from their CSR: the certificate's
 * CN is the agent id, the client id must equal it, and the certificate must
 * be the agent's current, active one in the registry (checked on every
 * connect, so rotation and revocation apply at once). Optionally, on plain
 * TCP, an agent logs in with its id and a password instead. Either way it may
 * publish only its own uplink topics (segments included) and subscribe only to
 * its own downlink topics (commands, uploads),
 * never retained. The in-process ingest subscriber logs in on plain TCP as a
 * service user whose name no agent can take ('$' is not allowed in agent ids).
 */
export const SERVICE_USERNAME = '$wirefleet-ingest';

export interface BrokerAuth {
  /** True when the password is the agent's current one. */
  verifyAgent(agentId: string, password: string): Promise<boolean>;
  /** True when the certificate (SHA-256 of its DER, hex) is the agent's current, active one. */
  verifyCertificate(agentId: string, certificateId: string): Promise<boolean>;
}

export interface BrokerTlsOptions {
  /** Port of the mTLS listener (0 = any free port). */
  port: number;
  /** PEM: the CA client certificates must chain to, and the broker's own certificate and key. */
  ca: string;
  cert: string;
  key: string;
}

export interface LocalBrokerOptions {
  host: string;
  /** The plain-TCP listener: the service user, and agents' password logins when allowed. */
  port: number;
  auth: BrokerAuth;
  logger: Logger;
  /** The mTLS listener for agents' certificates. */
  tls?: BrokerTlsOptions;
  /** Whether agents may log in with a password on plain TCP (default true). */
  agentPasswords?: boolean;
}

export interface LocalBroker {
  /** The plain-TCP listener (mqtt://). */
  url: string;
  port: number;
  /** The mTLS listener (mqtts://), when started with `tls`. */
  tlsUrl: string | undefined;
  tlsPort: number | undefined;
  /** Closes the connections that authenticated with this certificate (it was deactivated). */
  disconnectCertificate(certificateId: string): number;
  /** Credentials for the in-process service client (never leave this process). */
  service: { username: string; password: string };
  /** Publishes and subscriptions the broker refused (authorisation). */
  refused(): { connects: number; publishes: number; subscribes: number };
  /** Closes the listeners: connected clients stay, new connections are refused. */
  stopAccepting(): void;
  /** QoS 1 messages queued for a persistent session and not yet acknowledged by it. */
  unacknowledged(clientId: string): Promise<number>;
  stop(): Promise<void>;
}

/** aedes keeps each persistent session's unacknowledged QoS 1 messages here (not in its types). */
interface OutgoingQueues {
  outgoingStream(client: { id: string }): AsyncIterable<unknown>;
}

class NotAuthorizedError extends Error {
  override readonly name = 'NotAuthorizedError';
}

type Identity =
  | { kind: 'service' }
  | { kind: 'agent'; id: string; certificateId?: string | undefined };

/** The verified client certificate of a TLS connection: its CN and id (SHA-256 of the DER, hex). */
function peerCertificate(client: Client): { cn: string; id: string } | undefined {
  const conn = client.conn;
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined;
  const cert = conn.getPeerCertificate();
  const cn = cert?.subject?.CN;
  if (typeof cn !== 'string' || !cert.raw) return undefined;
  return { cn, id: createHash('sha256').update(cert.raw).digest('hex') };
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
  const identities = new WeakMap<Client, Identity>();
  // Live connections by certificate, so a deactivated certificate can be cut off.
  const byCertificate = new Map<string, Set<Client>>();
  const agentPasswords = options.agentPasswords ?? true;

  const refuse = (done: (e: null, ok: boolean) => void, fields: Record<string, unknown>) => {
    refused.connects++;
    logger.warn('mqtt connect refused', fields);
    done(null, false);
  };

  /** mTLS: the certificate (already verified against the CA by TLS) names the agent. */
  const authenticateCertificate = (client: Client, done: (e: null, ok: boolean) => void) => {
    const peer = peerCertificate(client);
    if (!peer || !AGENT_ID_PATTERN.test(peer.cn)) {
      return refuse(done, { client_id: client.id, reason: 'no agent certificate (CN = agent id)' });
    }
    if (client.id !== peer.cn) {
      return refuse(done, {
        client_id: client.id,
        agent_id: peer.cn,
        reason: 'the client id must equal the agent id of the certificate',
      });
    }
    options.auth.verifyCertificate(peer.cn, peer.id).then(
      (ok) => {
        if (!ok) {
          return refuse(done, {
            agent_id: peer.cn,
            certificate_id: peer.id,
            reason: "not the agent's current, active certificate (revoked or replaced)",
          });
        }
        identities.set(client, { kind: 'agent', id: peer.cn, certificateId: peer.id });
        const clients = byCertificate.get(peer.id) ?? new Set<Client>();
        clients.add(client);
        byCertificate.set(peer.id, clients);
        done(null, true);
      },
      (error: Error) => {
        logger.error('mqtt auth lookup failed', { agent_id: peer.cn, error: error.message });
        refuse(done, { agent_id: peer.cn, reason: 'registry unavailable' });
      },
    );
  };

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      if (client.conn instanceof TLSSocket) return authenticateCertificate(client, done);
      const secret = password?.toString('utf8') ?? '';
      if (username === service.username && sameSecret(secret, service.password)) {
        identities.set(client, { kind: 'service' });
        return done(null, true);
      }
      if (!agentPasswords) {
        return refuse(done, { client_id: client.id, reason: 'agents connect with certificates' });
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
          ? target !== undefined && isDownlinkChannel(target.channel)
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
          : who?.kind === 'agent' &&
            DOWNLINK_CHANNELS.some((channel) => subscription.topic === agentTopic(who.id, channel));
      if (allowed) return done(null, subscription);
      refused.subscribes++;
      logger.warn('mqtt subscribe refused', { client_id: client?.id, topic: subscription.topic });
      done(new NotAuthorizedError(`not allowed to subscribe to ${subscription.topic}`), null);
    },
  });

  broker.on('clientDisconnect', (client) => {
    const who = identities.get(client);
    if (who?.kind === 'agent' && who.certificateId) {
      byCertificate.get(who.certificateId)?.delete(client);
      if (byCertificate.get(who.certificateId)?.size === 0) byCertificate.delete(who.certificateId);
    }
  });

  const servers: Server[] = [];
  const listen = async (server: Server, port: number) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => resolve());
    });
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };
  let port: number;
  let tlsPort: number | undefined;
  try {
    port = await listen(createServer(broker.handle), options.port);
    if (options.tls) {
      const tlsServer = createTlsServer(
        {
          ca: options.tls.ca,
          cert: options.tls.cert,
          key: options.tls.key,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        },
        broker.handle,
      );
      // A certificate from another CA (or none) fails the handshake: MQTT never starts.
      tlsServer.on('tlsClientError', (error) => {
        refused.connects++;
        logger.warn('mqtt tls handshake refused', { reason: error.message });
      });
      tlsPort = await listen(tlsServer, options.tls.port);
    }
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const server of servers) server.close();
    throw error;
  }
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `mqtt://${host}:${port}`;
  const tlsUrl = tlsPort === undefined ? undefined : `mqtts://${host}:${tlsPort}`;
  logger.info('mqtt broker started', { url, tls_url: tlsUrl, agent_passwords: agentPasswords });
  return {
    url,
    port,
    tlsUrl,
    tlsPort,
    service,
    refused: () => ({ ...refused }),
    disconnectCertificate(certificateId) {
      const clients = [...(byCertificate.get(certificateId) ?? [])];
      byCertificate.delete(certificateId);
      for (const client of clients) client.close();
      if (clients.length > 0) {
        logger.info('mqtt connections of a deactivated certificate closed', {
          certificate_id: certificateId,
          connections: clients.length,
        });
      }
      return clients.length;
    },
    stopAccepting() {
      for (const server of servers) if (server.listening) server.close();
    },
    async unacknowledged(clientId: string) {
      const { persistence } = broker as unknown as { persistence: OutgoingQueues };
      let count = 0;
      for await (const _ of persistence.outgoingStream({ id: clientId })) count++;
      return count;
    },
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      // Called back once every connection has ended (broker.close ended them).
      await Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}
