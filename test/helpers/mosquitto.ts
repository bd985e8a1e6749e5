import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A real mosquitto 2.x on 127.0.0.1 and a free port, with password and ACL
 * files shaped like the production broker policy: each agent user may write
 * only under wirefleet/v1/agents/<its username>/ and read its own commands;
 * `ingest` reads every agent's uplink and writes every agent's commands.
 *
 * Optionally a second, mTLS listener: a client certificate signed by the CA is
 * required and its CN becomes the username (use_identity_as_username), so the
 * same ACL patterns bind an agent to the topics of its certificate's CN. With
 * per_listener_settings false (the default) the password file, ACL and
 * allow_anonymous false are global; mosquitto 2.0 skips the password check for
 * a listener that takes the identity from the certificate (the client's own
 * username and password are discarded), and the CN is a username, so the
 * connection is not anonymous. Mind that a certificate with CN "ingest" would be
 * the ingest user: the CA must only sign agent ids.
 */

export const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = 'mosquitto_passwd';
const run = promisify(execFile);

export interface MosquittoOptions {
  /** username → password; agent users are named by their agent id. */
  users: Record<string, string>;
  /** A fixed port; a free one by default. */
  port?: number;
  /**
   * Keep sessions (subscriptions, queued QoS 1 messages) across restart(): mosquitto
   * saves them on SIGTERM and loads them on start.
   */
  persistence?: boolean;
  /** Adds an mTLS listener (PEM file paths); see above. */
  tls?: MosquittoTlsOptions;
}

export interface MosquittoTlsOptions {
  /** A fixed port; a free one by default. */
  port?: number;
  /** The CA that client certificates must chain to. */
  cafile: string;
  /** The broker's certificate and key (for 127.0.0.1). */
  certfile: string;
  keyfile: string;
}

export interface Mosquitto {
  /** The password listener. */
  url: string;
  port: number;
  /** The mTLS listener (mqtts://127.0.0.1:PORT), when started with `tls`. */
  tlsUrl?: string;
  tlsPort?: number;
  pid: number;
  /** Stops the broker (SIGTERM, then SIGKILL); keeps the config so restart() works. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same users. */
  restart(): Promise<void>;
  /** Stops the broker and removes its files. */
  stop(): Promise<void>;
  /** mosquitto's own log (stderr), for failure messages. */
  log(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startMosquitto(
  options: MosquittoOptions & { tls: MosquittoTlsOptions },
): Promise<Mosquitto & { tlsUrl: string; tlsPort: number }>;
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto>;
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-mosquitto-'));
  const port = options.port ?? (await freePort());
  const { tls } = options;
  let tlsPort = tls ? (tls.port ?? (await freePort())) : undefined;
  // Two free ports asked for in a row can come back equal, since neither is held.
  while (tls && tls.port === undefined && tlsPort === port) tlsPort = await freePort();
  const passwordFile = path.join(dir, 'passwd');
  const aclFile = path.join(dir, 'acl');
  const confFile = path.join(dir, 'mosquitto.conf');

  await writeFile(passwordFile, '', { mode: 0o600 });
  for (const [user, password] of Object.entries(options.users)) {
    await run(MOSQUITTO_PASSWD, ['-b', passwordFile, user, password]);
  }
  await chmod(passwordFile, 0o600);
  await writeFile(
    aclFile,
    [
      // Patterns apply to every user (ingest too, harmlessly); topic lines only to the user above.
      'user ingest',
      'topic read wirefleet/v1/agents/+/#',
      'topic write wirefleet/v1/agents/+/commands',
      '',
      'pattern write wirefleet/v1/agents/%u/#',
      'pattern read wirefleet/v1/agents/%u/commands',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await writeFile(
    confFile,
    [
      // Running as root, mosquitto would otherwise switch to the "mosquitto" user, who cannot
      // read these 0600 files.
      'user root',
      // Security settings below are global, for both listeners.
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwordFile}`,
      `acl_file ${aclFile}`,
      `listener ${port} 127.0.0.1`,
      ...(tls
        ? [
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${tls.cafile}`,
            `certfile ${tls.certfile}`,
            `keyfile ${tls.keyfile}`,
            'require_certificate true',
            'use_identity_as_username true',
          ]
        : []),
      ...(options.persistence
        ? ['persistence true', `persistence_location ${dir}/`]
        : ['persistence false']),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async () => {
    const proc = spawn(MOSQUITTO, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code) =>
        reject(new Error(`mosquitto exited with ${code} before listening:\n${stderr}`)),
      );
      proc.once('error', reject);
    });
    exited.catch(() => {});
    await Promise.race([
      Promise.all([waitForPort(port), tlsPort === undefined ? null : waitForPort(tlsPort)]),
      exited,
    ]);
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (error) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    ...(tlsPort === undefined ? {} : { tlsUrl: `mqtts://127.0.0.1:${tlsPort}`, tlsPort }),
    get pid() {
      return child?.pid ?? -1;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => stderr,
  };
}
