import type { MqttClient } from 'mqtt';

/** A connection that lived this long was healthy, whatever ended it. */
const STABLE_MS = 30_000;

/** One MQTT.js client and what the uplink learned about it. Each connection gets a fresh one. */
export interface Connection {
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
  /** Closed by us after a PUBACK did not come in time: a slow or stuck link, not the entry's fault. */
  timedOut?: boolean;
  ackTimer?: NodeJS.Timeout;
}

export function newConnection(client: MqttClient): Connection {
  return { client, connected: false, connectedAt: 0, progressed: false, ready: false };
}

/** Whether a closed connection worked well enough to reset the reconnect backoff. */
export function wasHealthy(conn: Connection, wasConnected: boolean): boolean {
  return conn.progressed || (wasConnected && Date.now() - conn.connectedAt >= STABLE_MS);
}

/**
 * Ends the client with force, which fails its in-memory outgoing store so
 * MQTT.js never replays anything; the close handler then reconnects.
 */
export function recycle(conn: Connection): void {
  conn.closing = true;
  conn.client.end(true);
}

/** Ends the client for good, waiting at most timeoutMs for it to close. */
export async function closeConnection(conn: Connection, timeoutMs: number): Promise<void> {
  conn.closing = true;
  clearInterval(conn.ackTimer);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    conn.client.end(true, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
