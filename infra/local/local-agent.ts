import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../functions/logger.js';
import type { AgentRepository } from '../../functions/store/agents.js';
import { ADDON_PATH } from '../../native/index.js';
import { renewCertificate } from '../cli/agent-enroll.js';
import { writeDemoCapture } from './demo-capture.js';

/**
 * The one agent `npm start` runs, as a real child process like any installed
 * agent: registered in the default tenant, capturing on loopback when this
 * process may (root), otherwise replaying a capture generated on first start.
 * It registers the way AWS agents do: its key made here, a CSR through the
 * API, the certificate from the local CA, then mTLS to the broker.
 */
export const LOCAL_AGENT_ID = 'local-agent';

export interface LocalAgentOptions {
  dataDir: string;
  tenant: string;
  /** The API it registers through, and a token of `tenant`. */
  apiUrl: string;
  token: string;
  /**
   * The broker's mTLS listener and CA: the agent registers with a CSR. Without
   * them (an external broker), it logs in on `mqttUrl` with a password.
   */
  tls?: { url: string; caPem: string } | undefined;
  mqttUrl: string;
  agents: AgentRepository;
  logger: Logger;
  /** Port of the agent's control API (default 8001). */
  controlPort?: number;
}

export interface LocalAgent {
  agentId: string;
  configPath: string;
  mode: 'loopback' | 'replay';
  pid: number | undefined;
  stop(): Promise<void>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startLocalAgent(options: LocalAgentOptions): Promise<LocalAgent> {
  const dir = path.join(options.dataDir, 'agent');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const mqtt = options.tls
    ? await ensureCertificate(options, options.tls, dir)
    : await ensurePassword(options, dir);

  const mayCapture = process.getuid?.() === 0 && process.env.WIREFLEET_LOCAL_AGENT !== 'replay';
  const capture = mayCapture
    ? { interface: 'lo' }
    : { file: await ensureDemoCapture(path.join(dir, 'demo.pcap')) };
  const publicKey = path.join(path.dirname(ADDON_PATH), 'addon-signing.pub');
  const signed = existsSync(`${ADDON_PATH}.sig`) && existsSync(publicKey);
  const config = {
    agent_id: LOCAL_AGENT_ID,
    mqtt,
    capture,
    // Short timeouts so flows show up within seconds of `npm start`.
    flows: { idle_timeout_sec: 5, active_timeout_sec: 30, summary_interval_sec: 2 },
    spool: { dir: path.join(dir, 'spool'), max_size_mb: 64 },
    control: {
      listen: `127.0.0.1:${options.controlPort ?? 8001}`,
      token_file: path.join(dir, 'control-token'),
    },
    heartbeat: { interval_sec: 5, metrics_interval_sec: 5 },
    integrity: { public_key_file: publicKey, allow_unsigned: !signed },
    log: { audit_file: path.join(dir, 'audit.log') },
  };
  const configPath = path.join(dir, 'local-agent.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  if (!signed) {
    options.logger.warn('native engine is not signed: the local agent runs with allow_unsigned', {
      addon: ADDON_PATH,
    });
  }

  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(repoRoot, 'bin/wirefleet.js'), 'agent', 'run', '--config', configPath],
    { stdio: ['ignore', 'inherit', 'inherit'], env: process.env },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') {
      options.logger.warn('local agent exited', { code, signal });
    }
  });
  options.logger.info('local agent started', {
    pid: child.pid,
    mode: mayCapture ? 'loopback' : 'replay',
    config: configPath,
  });
  return {
    agentId: LOCAL_AGENT_ID,
    configPath,
    mode: mayCapture ? 'loopback' : 'replay',
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Keeps the certificate while the registry says it is the agent's current,
 * active one under this CA; otherwise a new key and CSR: a registration the
 * first time, a rotation (POST /agents/{id}/credentials) after that.
 */
async function ensureCertificate(
  options: LocalAgentOptions,
  tls: { url: string; caPem: string },
  dir: string,
) {
  const files = {
    key_file: path.join(dir, 'agent.key'),
    cert_file: path.join(dir, 'agent.crt'),
    ca_file: path.join(dir, 'ca.crt'),
  };
  const config = { url: tls.url, client_id: LOCAL_AGENT_ID, ...files };
  if (await certificateStillGood(options, tls.caPem, files)) return config;

  const existing = await options.agents.get(LOCAL_AGENT_ID);
  if (existing && existing.tenant !== options.tenant) {
    throw new Error(`agent ${LOCAL_AGENT_ID} belongs to another tenant`);
  }
  const answer = await renewCertificate({
    api: options.apiUrl,
    token: options.token,
    agentId: LOCAL_AGENT_ID,
    files,
    rotate: existing !== undefined,
  });
  options.logger.info('local agent certificate issued', {
    certificate_id: answer.certificate.certificate_id,
    not_after: answer.certificate.not_after,
  });
  return { ...config, url: answer.mqtt.url, client_id: answer.mqtt.client_id };
}

async function certificateStillGood(
  options: LocalAgentOptions,
  caPem: string,
  files: { key_file: string; cert_file: string; ca_file: string },
): Promise<boolean> {
  if (!Object.values(files).every((file) => existsSync(file))) return false;
  if ((await readFile(files.ca_file, 'utf8')) !== caPem) return false;
  let id: string;
  try {
    const der = new X509Certificate(await readFile(files.cert_file)).raw;
    id = createHash('sha256').update(der).digest('hex');
  } catch {
    return false;
  }
  return options.agents.verifyCertificate(LOCAL_AGENT_ID, id);
}

/** An external broker: registered once with a password; a lost password file gets a fresh one. */
async function ensurePassword(options: LocalAgentOptions, dir: string) {
  const passwordFile = path.join(dir, 'mqtt-password');
  const config = { url: options.mqttUrl, username: LOCAL_AGENT_ID, password_file: passwordFile };
  const existing = await options.agents.get(LOCAL_AGENT_ID);
  if (existing && existsSync(passwordFile)) {
    const password = (await readFile(passwordFile, 'utf8')).trim();
    if (await options.agents.verifyPassword(LOCAL_AGENT_ID, password)) return config;
  }
  const password = existing
    ? await options.agents.rotatePassword(options.tenant, LOCAL_AGENT_ID)
    : (await options.agents.register(options.tenant, LOCAL_AGENT_ID)).password;
  if (!password) throw new Error(`agent ${LOCAL_AGENT_ID} belongs to another tenant`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  return config;
}

/** Generated once and kept, so a restarted agent replays the same flows (same record ids). */
async function ensureDemoCapture(file: string): Promise<string> {
  if (!existsSync(file)) await writeDemoCapture(file, { flows: 200 });
  return file;
}
