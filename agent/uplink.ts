import { EventEmitter } from 'node:events';
import { connect, type MqttClient } from 'mqtt';
import { agentTopic, TOPIC_ROOT, type UplinkChannel } from '../protocol/agent-messages.js';
import {
  SEGMENT_DOWNLINK_CHANNEL,
  SEGMENT_UPLINK_CHANNEL,
} from '../protocol/evidence/upload-messages.js';
import { Backoff } from './backoff.js';
import type { AgentLogger } from './log.js';
import type { DiskSpool, SpoolEntry } from './spool.js';
import {
  type Connection,
  closeConnection,
  newConnection,
  recycle,
  wasHealthy,
} from './uplink/connection.js';
import { InFlightLedger } from './uplink/in-flight.js';
import {
  mqttClientOptions,
  type ResolvedUplinkOptions,
  resolveUplinkOptions,
  type UplinkOptions,
} from './uplink/options.js';

export { UplinkConfigError, type UplinkOptions } from './uplink/options.js';

/**
 * The agent's MQTT uplink: drains the disk spool oldest-first as QoS 1
 * publishes, removes an entry only on its PUBACK, and reconnects forever with
 * jittered backoff. MQTT.js is used as transport only (research/cloud.md 1.6:
 * its stores are in memory and publishAsync never settles while offline).
 *
 * Duplicates: every connection gets a fresh MqttClient with reconnectPeriod
 * 0, and a dead client is ended with force, which fails its in-memory
 * outgoing store. So MQTT.js never replays anything; after a reconnect only
 * the spool resends what was not acknowledged. The only duplicates left are
 * entries the broker got but whose PUBACK was lost with the connection; the
 * record ids make those harmless at ingest. The session itself is persistent
 * (clean: false): brokers keep no state for inbound QoS 1, so that changes
 * nothing for publishes, but the broker queues commands for an agent that is
 * away. The daemon drops repeats by command id and answers stale ones 'expired'.
 *
 * Poison messages (aws-greengrass-nucleus #852): a broker that refuses a
 * publish closes the connection (aedes, AWS IoT) or answers with an error
 * reason code (MQTT 5). After a connection dies with publishes in flight the
 * uplink sends one entry at a time (see InFlightLedger), and only once the
 * broker has answered the commands SUBSCRIBE, so a link that flaps right after
 * CONNACK is not blamed on whatever was next. An entry refused by reason code,
 * or alone in flight when the connection closed, gets a strike; at
 * `rejectAfter` strikes it is parked in the spool's rejected/ and the queue
 * moves on. A missing PUBACK is no strike: silence is what a slow link looks
 * like too, so the ack timeout grows with the bytes in flight and only
 * recycles the connection. (A v3.1.1 mosquitto acknowledges a denied publish
 * and drops it; that cannot be told apart from delivery on the wire.)
 */

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

/**
 * Events: 'connected' (after each successful connect; a good moment for a
 * heartbeat), 'disconnected', 'rejected' ({ seq, reason }). Never 'error'.
 */
export class Uplink extends EventEmitter {
  readonly #options: ResolvedUplinkOptions;
  readonly #spool: DiskSpool;
  readonly #logger: AgentLogger;
  readonly #backoff: Backoff;
  readonly #commandTopic: string;
  readonly #handlers: Array<(payload: Buffer) => void> = [];
  /** Evidence uploads: the cloud's answers arrive on `uploads`, our requests go on `segments`. */
  readonly #uploadsTopic: string;
  readonly #segmentsTopic: string;
  readonly #uploadHandlers: Array<(payload: Buffer) => void> = [];
  readonly #inflight: InFlightLedger;
  #conn: Connection | undefined;
  #started = false;
  #stopping = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
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
    this.#options = resolveUplinkOptions(options);
    this.#spool = spool;
    this.#logger = options.logger;
    this.#backoff = new Backoff({
      minMs: this.#options.reconnectMinMs,
      maxMs: this.#options.reconnectMaxMs,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#inflight = new InFlightLedger(this.#options.rejectAfter, {
      baseMs: this.#options.ackTimeoutMs,
      bytesPerSec: this.#options.minLinkBytesPerSec,
    });
    this.#commandTopic = agentTopic(options.agentId, 'commands');
    this.#uploadsTopic = `${TOPIC_ROOT}/${options.agentId}/${SEGMENT_DOWNLINK_CHANNEL}`;
    this.#segmentsTopic = `${TOPIC_ROOT}/${options.agentId}/${SEGMENT_UPLINK_CHANNEL}`;
  }

  get connected(): boolean {
    return this.#conn?.connected === true && !this.#stopping;
  }

  /** The cloud's answers to evidence upload requests (raw payloads; the caller validates them). */
  onUploads(handler: (payload: Buffer) => void): void {
    this.#uploadHandlers.push(handler);
  }

  /**
   * An evidence upload message on `segments`, QoS 1, now: resolves on its PUBACK, rejects when
   * not connected or when the connection goes first. Not spooled: the segment spool is the
   * durable state, and the uploader asks again for whatever is still in it.
   */
  publishSegmentMessage(payload: string): Promise<void> {
    const conn = this.#conn;
    if (!conn?.connected || conn.closing || this.#stopping) {
      return Promise.reject(new Error('not connected'));
    }
    return new Promise((resolve, reject) => {
      conn.client.publish(this.#segmentsTopic, payload, { qos: 1 }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
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
    if (conn) await closeConnection(conn, 1000);
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
    let client: MqttClient;
    try {
      client = connect(o.url, mqttClientOptions(o));
    } catch (error) {
      this.#logger.error('uplink: cannot create MQTT client', { error: (error as Error).message });
      this.#scheduleReconnect();
      return;
    }
    const conn = newConnection(client);
    this.#conn = conn;
    client.on('connect', () => this.#onConnect(conn));
    client.on('message', (topic, payload) => {
      if (this.#conn !== conn) return;
      const handlers =
        topic === this.#commandTopic
          ? this.#handlers
          : topic === this.#uploadsTopic
            ? this.#uploadHandlers
            : [];
      for (const handler of handlers) {
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
    // A separate SUBSCRIBE: a broker that refuses `uploads` must not cost the commands.
    conn.client.subscribe(this.#uploadsTopic, { qos: 1 }, (err, granted) => {
      if (this.#conn !== conn) return;
      if (err || granted?.some((g) => g.qos === 128)) {
        this.#logger.warn('uplink: uploads subscription refused (evidence uploads wait)', {
          topic: this.#uploadsTopic,
          error: err?.message,
        });
      }
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
    const culprit = this.#inflight.connectionLost(conn.blamed === true || conn.timedOut === true);
    if (culprit !== undefined) this.#strike(culprit, 'connection closed before its PUBACK');
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
    if (wasHealthy(conn, wasConnected)) this.#backoff.reset();
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
    const late = this.#inflight.overdue();
    if (late === undefined) return;
    // MQTT 3.1.1 resends only on a new connection, so recycle it. No strike: silence is what a
    // slow or flaky link looks like too; refusals show as a reason code or a close by the broker.
    this.#logger.warn('uplink: no PUBACK in time, reconnecting', {
      seq: late.seq,
      ack_timeout_ms: late.timeoutMs,
      bytes_in_flight: this.#inflight.bytes,
    });
    conn.timedOut = true;
    recycle(conn);
  }

  /** One failure of an entry that was alone in flight; parks it after rejectAfter. */
  #strike(seq: number, reason: string): void {
    const { strikes, park } = this.#inflight.strike(seq);
    this.#logger.warn('uplink: publish failed', { seq, reason, strikes });
    if (!park) return;
    this.#rejected += 1;
    this.emit('rejected', { seq, reason });
    const parking = this.#spool.reject(seq, `${reason} (${strikes} times)`);
    this.#track(parking, 'uplink: could not park a rejected entry', seq);
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
      if (this.#inflight.cautious && !conn.ready) return;
      const window = this.#inflight.window(this.#options.maxInFlight);
      if (this.#inflight.size >= window) return;
      const entry = this.#spool
        .peek(this.#inflight.size + window)
        .find((e) => !this.#inflight.has(e.seq));
      if (!entry) return;
      this.#inflight.reserve(entry.seq);
      let payload: Buffer;
      try {
        payload = await entry.read();
      } catch (error) {
        this.#inflight.release(entry.seq);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          // Dropped by overflow meanwhile, or deleted from outside: then it is still indexed and
          // would be picked again forever, so the spool forgets it (counted as lost).
          if (this.#spool.has(entry.seq)) {
            const forgetting = this.#spool.forget(entry.seq, 'spool file missing');
            this.#track(forgetting, 'uplink: could not record a lost entry', entry.seq);
          }
          continue;
        }
        this.#logger.error('uplink: cannot read spool entry', {
          seq: entry.seq,
          error: (error as Error).message,
        });
        this.#strike(entry.seq, `unreadable: ${(error as Error).message}`);
        return;
      }
      if (this.#conn !== conn || !conn.connected || conn.closing || this.#stopping) {
        this.#inflight.release(entry.seq);
        continue;
      }
      this.#published += 1;
      this.#inflight.markSent(entry.seq, payload.length);
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
      this.#inflight.refused(entry.seq);
      this.#strike(entry.seq, err.message);
      conn.blamed = true;
      // Resend only after a backoff, not in a hot loop.
      recycle(conn);
      return;
    }
    this.#inflight.acked(entry.seq);
    this.#acked += 1;
    conn.progressed = true;
    const acking = this.#spool.ack(entry.seq);
    this.#track(acking, 'uplink: could not remove an acknowledged entry', entry.seq);
    void this.#pump();
  }

  /** Keeps a spool operation for stop() to wait on; a failure is logged, never thrown. */
  #track(op: Promise<void>, failure: string, seq: number): void {
    const tracked = op.catch((error: Error) => {
      this.#logger.error(failure, { seq, error: error.message });
    });
    this.#pendingSpoolOps.add(tracked);
    void tracked.finally(() => this.#pendingSpoolOps.delete(tracked));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
