import { EventEmitter } from 'node:events';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { AGENT_ID_PATTERN, agentTopic, type UplinkChannel } from '../protocol/agent-messages.js';
import { Backoff } from './backoff.js';
import type { AgentLogger } from './log.js';
import type { DiskSpool, SpoolEntry } from './spool.js';

/**
 * The agent's MQTT uplink: drains the disk spool oldest-first as QoS 1
 * publishes, removes an entry only on its PUBACK, and reconnects forever with
 * jittered backoff. MQTT.js is used as transport only (research/cloud.md 1.6:
 * its stores are in memory and publishAsync never settles while offline).
 *
 * Duplicates: every connection gets a fresh MqttClient with clean: true and
 * reconnectPeriod 0, and a dead client is ended with force, which fails its
 * in-memory outgoing store. So MQTT.js never replays anything; after a
 * reconnect only the spool resends what was not acknowledged. The only
 * duplicates left are entries the broker got but whose PUBACK was lost with the
 * connection; the record ids make those harmless at ingest. (A persistent
 * session would not help: MQTT 3.1.1 brokers keep no state for inbound QoS 1,
 * and it would replay stale commands queued while the agent was offline.)
 *
 * Poison messages (aws-greengrass-nucleus #852): a broker that refuses a
 * publish closes the connection (aedes, AWS IoT), answers with an error
 * reason code (MQTT 5) or never answers. After a connection dies with publishes
 * in flight the uplink turns cautious: it sends one entry at a time until a
 * PUBACK comes back, so a failure can be pinned on exactly that entry, and only
 * once the broker has answered the commands SUBSCRIBE, so a link that flaps
 * right after CONNACK is not blamed on whatever was next. An entry
 * that fails `rejectAfter` times alone is parked in the spool's rejected/ and
 * the queue moves on. (A v3.1.1 mosquitto acknowledges a denied publish and
 * drops it; that cannot be told apart from delivery on the wire.)
 */

export interface UplinkOptions {
  /** mqtt://, mqtts://, ws:// or wss://. */
  url: string;
  agentId: string;
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
  /** A publish without PUBACK for this long counts as failed; the connection is recycled. */
  ackTimeoutMs?: number;
  /** Failures of one entry, sent alone, before it is parked in rejected/. */
  rejectAfter?: number;
  protocolVersion?: 4 | 5;
  logger: AgentLogger;
  /** For the backoff jitter (tests). */
  random?: () => number;
}

export interface UplinkStats {
  connected: boolean;
  /** Spool entries handed to the broker (resends included). */
  published: number;
  /** PUBACKs for spool entries. */
  acked: number;
  /** Connection attempts after the first. */
  reconnects: number;
  /** Entries parked in rejected/. */
  rejected: number;
  in_flight: number;
}

export class UplinkConfigError extends Error {
  override readonly name = 'UplinkConfigError';
}

const PROTOCOLS = new Set(['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:']);
/** A connection that lived this long was healthy, whatever ended it. */
const STABLE_MS = 30_000;

interface Connection {
  client: MqttClient;
  connected: boolean;
  connectedAt: number;
  /** Got at least one PUBACK. */
  progressed: boolean;
  /** The broker answered our SUBSCRIBE: the session works beyond the CONNACK. */
  ready: boolean;
  /** We are ending it: callbacks failing with "Connection closed" are not the broker's verdict. */
  closing?: boolean;
  /** Closed by us after the broker named a failed publish: nothing more to blame on close. */
  blamed?: boolean;
  ackTimer?: NodeJS.Timeout;
}

interface InFlight {
  sentAt: number;
  /** Handed to MQTT.js (false while its payload is being read). */
  sent: boolean;
}

/**
 * Events: 'connected' (after each successful connect; a good moment for a
 * heartbeat), 'disconnected', 'rejected' ({ seq, reason }). Never 'error'.
 */
export class Uplink extends EventEmitter {
  readonly #options: Required<
    Pick<
      UplinkOptions,
      | 'keepaliveSec'
      | 'maxInFlight'
      | 'connectTimeoutMs'
      | 'ackTimeoutMs'
      | 'rejectAfter'
      | 'protocolVersion'
    >
  > &
    UplinkOptions;
  readonly #spool: DiskSpool;
  readonly #logger: AgentLogger;
  readonly #backoff: Backoff;
  readonly #commandTopic: string;
  readonly #handlers: Array<(payload: Buffer) => void> = [];
  #conn: Connection | undefined;
  #started = false;
  #stopping = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #inflight = new Map<number, InFlight>();
  /** Failures of an entry while it was the only one in flight. */
  readonly #strikes = new Map<number, number>();
  #cautious = false;
  #pumping = false;
  #pumpAgain = false;
  readonly #pendingSpoolOps = new Set<Promise<void>>();
  #attempts = 0;
  #failedAttempts = 0;
  #published = 0;
  #acked = 0;
  #rejected = 0;

  constructor(spool: DiskSpool, options: UplinkOptions) {
    super();
    if (!AGENT_ID_PATTERN.test(options.agentId)) {
      throw new UplinkConfigError(`invalid agent id "${options.agentId}"`);
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
    this.#options = {
      ...options,
      keepaliveSec: positive('keepaliveSec', options.keepaliveSec, 30),
      maxInFlight: Math.floor(positive('maxInFlight', options.maxInFlight, 20)),
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
      ackTimeoutMs: positive('ackTimeoutMs', options.ackTimeoutMs, 30_000),
      rejectAfter: Math.floor(positive('rejectAfter', options.rejectAfter, 5)),
      protocolVersion: options.protocolVersion ?? 4,
    };
    this.#spool = spool;
    this.#logger = options.logger;
    this.#backoff = new Backoff({
      minMs: positive('reconnectMinMs', options.reconnectMinMs, 500),
      maxMs: positive('reconnectMaxMs', options.reconnectMaxMs, 30_000),
      ...(options.random ? { random: options.random } : {}),
    });
    this.#commandTopic = agentTopic(options.agentId, 'commands');
  }

  /** Starts connecting; an unreachable broker is normal and retried forever. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#connect();
  }

  /** New spool entries are available. */
  notify(): void {
    void this.#pump();
  }

  /** Commands from the cloud (raw payloads; the caller validates them). */
  onCommand(handler: (payload: Buffer) => void): () => void {
    this.#handlers.push(handler);
    return () => {
      const i = this.#handlers.indexOf(handler);
      if (i >= 0) this.#handlers.splice(i, 1);
    };
  }

  /**
   * Heartbeats and metrics: sent QoS 1 now if connected, otherwise skipped
   * (false). Not spooled: a stale heartbeat is worse than none.
   */
  publishNow(channel: UplinkChannel, payload: Buffer | string): boolean {
    const conn = this.#conn;
    if (!conn?.connected || this.#stopping) return false;
    conn.client.publish(agentTopic(this.#options.agentId, channel), payload, { qos: 1 }, (err) => {
      if (err && this.#conn === conn) {
        this.#logger.debug('uplink: direct publish failed', { channel, error: err.message });
      }
    });
    return true;
  }

  stats(): UplinkStats {
    return {
      connected: this.#conn?.connected ?? false,
      published: this.#published,
      acked: this.#acked,
      reconnects: Math.max(0, this.#attempts - 1),
      rejected: this.#rejected,
      in_flight: this.#inflight.size,
    };
  }

  /**
   * Stops publishing, waits up to drainMs for in-flight PUBACKs, then closes.
   * Whatever is still unacknowledged stays in the spool for the next run.
   */
  async stop({ drainMs = 5000 }: { drainMs?: number } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const deadline = Date.now() + Math.max(0, drainMs);
    while (this.#conn?.connected && this.#inflight.size > 0 && Date.now() < deadline) {
      await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
    }
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      conn.closing = true;
      clearInterval(conn.ackTimer);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        conn.client.end(true, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.#inflight.clear();
    // Let acknowledged entries leave the spool before the process exits.
    await Promise.race([Promise.allSettled([...this.#pendingSpoolOps]), sleep(2000)]);
    this.#logger.info('uplink stopped', { ...this.stats() });
  }

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#stopping) return;
    this.#attempts += 1;
    const o = this.#options;
    const clientOptions: IClientOptions = {
      clientId: o.agentId,
      clean: true,
      // We reconnect ourselves, with backoff and a fresh client (see the header comment).
      reconnectPeriod: 0,
      keepalive: o.keepaliveSec,
      connectTimeout: o.connectTimeoutMs,
      protocolVersion: o.protocolVersion,
      resubscribe: false,
      queueQoSZero: false,
      ...(o.username != null ? { username: o.username } : {}),
      ...(o.password != null ? { password: o.password } : {}),
      ...(o.ca != null ? { ca: o.ca } : {}),
      ...(o.cert != null ? { cert: o.cert } : {}),
      ...(o.key != null ? { key: o.key } : {}),
    };
    let client: MqttClient;
    try {
      client = connect(o.url, clientOptions);
    } catch (error) {
      this.#logger.error('uplink: cannot create MQTT client', { error: (error as Error).message });
      this.#scheduleReconnect();
      return;
    }
    const conn: Connection = {
      client,
      connected: false,
      connectedAt: 0,
      progressed: false,
      ready: false,
    };
    this.#conn = conn;
    client.on('connect', () => this.#onConnect(conn));
    client.on('message', (topic, payload) => {
      if (this.#conn !== conn || topic !== this.#commandTopic) return;
      for (const handler of this.#handlers) {
        try {
          handler(payload);
        } catch (error) {
          this.#logger.error('uplink: command handler failed', { error: (error as Error).message });
        }
      }
    });
    client.on('error', (error) => {
      if (this.#conn !== conn) return;
      const fields = { url: o.url, error: error.message, attempt: this.#failedAttempts + 1 };
      // One warning per outage, not one per retry.
      if (conn.connected || this.#failedAttempts === 0)
        this.#logger.warn('uplink: MQTT error', fields);
      else this.#logger.debug('uplink: MQTT error', fields);
      if (!conn.connected) client.end(true);
    });
    client.on('close', () => this.#onClose(conn));
  }

  #onConnect(conn: Connection): void {
    if (this.#conn !== conn) return;
    conn.connected = true;
    conn.connectedAt = Date.now();
    this.#logger.info('uplink connected', {
      url: this.#options.url,
      after_failed_attempts: this.#failedAttempts,
      spool_depth: this.#spool.stats().depth_batches,
    });
    this.#failedAttempts = 0;
    conn.client.subscribe(this.#commandTopic, { qos: 1 }, (err, granted) => {
      if (this.#conn !== conn) return;
      if (err || granted?.some((g) => g.qos === 128)) {
        this.#logger.warn('uplink: commands subscription refused', {
          topic: this.#commandTopic,
          error: err?.message,
        });
      }
      conn.ready = true;
      void this.#pump();
    });
    const tick = Math.max(10, Math.min(1000, this.#options.ackTimeoutMs / 4));
    conn.ackTimer = setInterval(() => this.#checkAckTimeouts(conn), tick);
    this.emit('connected');
    void this.#pump();
  }

  #onClose(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    clearInterval(conn.ackTimer);
    const wasConnected = conn.connected;
    conn.connected = false;
    if (this.#inflight.size > 0) {
      const [[seq, flight] = []] = this.#inflight;
      if (this.#cautious && this.#inflight.size === 1 && flight?.sent && !conn.blamed) {
        this.#strike(seq!, 'connection closed before its PUBACK');
      }
      this.#cautious = true;
    }
    this.#inflight.clear();
    // Fails whatever MQTT.js still holds, so it never replays it; the spool still has it.
    conn.client.end(true);
    if (wasConnected) {
      this.emit('disconnected');
      this.#logger.warn('uplink disconnected', {
        connected_ms: Date.now() - conn.connectedAt,
        spool_depth: this.#spool.stats().depth_batches,
      });
    } else {
      this.#failedAttempts += 1;
    }
    if (conn.progressed || (wasConnected && Date.now() - conn.connectedAt >= STABLE_MS)) {
      this.#backoff.reset();
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer) return;
    const delay = this.#backoff.next();
    this.#logger.debug('uplink: reconnecting', { delay_ms: delay, attempt: this.#backoff.attempt });
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  #checkAckTimeouts(conn: Connection): void {
    if (this.#conn !== conn || !conn.connected) return;
    const now = Date.now();
    for (const [seq, flight] of this.#inflight) {
      if (now - flight.sentAt < this.#options.ackTimeoutMs) continue;
      // MQTT 3.1.1 resends only on a new connection, so recycle it; #onClose assigns the blame.
      this.#logger.warn('uplink: no PUBACK in time, reconnecting', {
        seq,
        ack_timeout_ms: this.#options.ackTimeoutMs,
      });
      this.#recycle(conn);
      return;
    }
  }

  /** One failure of an entry that was alone in flight; parks it after rejectAfter. */
  #strike(seq: number, reason: string): void {
    const strikes = (this.#strikes.get(seq) ?? 0) + 1;
    this.#strikes.set(seq, strikes);
    this.#logger.warn('uplink: publish failed', { seq, reason, strikes });
    if (strikes < this.#options.rejectAfter) return;
    this.#strikes.delete(seq);
    this.#rejected += 1;
    this.emit('rejected', { seq, reason });
    this.#track(
      this.#spool.reject(seq, `${reason} (${strikes} times)`).catch((error: Error) => {
        this.#logger.error('uplink: could not park a rejected entry', {
          seq,
          error: error.message,
        });
      }),
    );
  }

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        await this.#fill();
      } while (this.#pumpAgain);
    } catch (error) {
      this.#logger.error('uplink: publishing loop failed', { error: (error as Error).message });
    } finally {
      this.#pumping = false;
    }
  }

  async #fill(): Promise<void> {
    for (;;) {
      const conn = this.#conn;
      if (!conn?.connected || conn.closing || this.#stopping) return;
      // Cautious sends wait for the SUBACK: a connection that flaps right after CONNACK
      // (MQTT.js #1825) must not be blamed on the entry.
      if (this.#cautious && !conn.ready) return;
      const window = this.#cautious ? 1 : this.#options.maxInFlight;
      if (this.#inflight.size >= window) return;
      const entry = this.#spool
        .peek(this.#inflight.size + window)
        .find((e) => !this.#inflight.has(e.seq));
      if (!entry) return;
      const flight: InFlight = { sentAt: Date.now(), sent: false };
      this.#inflight.set(entry.seq, flight);
      let payload: Buffer;
      try {
        payload = await entry.read();
      } catch (error) {
        this.#inflight.delete(entry.seq);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // dropped by overflow meanwhile
        this.#logger.error('uplink: cannot read spool entry', {
          seq: entry.seq,
          error: (error as Error).message,
        });
        this.#strike(entry.seq, `unreadable: ${(error as Error).message}`);
        return;
      }
      if (this.#conn !== conn || !conn.connected || conn.closing || this.#stopping) {
        this.#inflight.delete(entry.seq);
        continue;
      }
      this.#published += 1;
      flight.sent = true;
      flight.sentAt = Date.now();
      conn.client.publish(
        agentTopic(this.#options.agentId, entry.channel),
        payload,
        { qos: 1 },
        (err) => this.#onPublished(conn, entry, err),
      );
    }
  }

  #onPublished(conn: Connection, entry: SpoolEntry, err: Error | undefined): void {
    // A dead connection's callbacks ("Connection closed"): the entry is still spooled.
    if (this.#conn !== conn || conn.closing || !this.#inflight.has(entry.seq)) return;
    if (err) {
      // Only an MQTT 5 PUBACK with an error reason code names the culprit; anything else
      // means the connection is going, and #onClose decides.
      if (typeof (err as { code?: unknown }).code !== 'number') return;
      this.#inflight.delete(entry.seq);
      this.#strike(entry.seq, err.message);
      this.#cautious = true;
      conn.blamed = true;
      // Resend only after a backoff, not in a hot loop.
      this.#recycle(conn);
      return;
    }
    this.#inflight.delete(entry.seq);
    this.#acked += 1;
    conn.progressed = true;
    this.#cautious = false;
    this.#strikes.delete(entry.seq);
    this.#track(
      this.#spool.ack(entry.seq).catch((error: Error) => {
        this.#logger.error('uplink: could not remove an acknowledged entry', {
          seq: entry.seq,
          error: error.message,
        });
      }),
    );
    void this.#pump();
  }

  #recycle(conn: Connection): void {
    conn.closing = true;
    conn.client.end(true);
  }

  #track(op: Promise<void>): void {
    this.#pendingSpoolOps.add(op);
    void op.finally(() => this.#pendingSpoolOps.delete(op));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
