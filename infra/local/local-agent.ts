import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../functions/logger.js';
import type { AgentRepository } from '../../functions/store/agents.js';
import { ADDON_PATH } from '../../native/index.js';
import { writeDemoCapture } from './demo-capture.js';

/**
 * The one agent `npm start` runs, as a real child process like any installed
 * agent: registered in the default tenant, capturing on loopback when this
 * process may (root), otherwise replaying a capture generated on first start.
 */
export const LOCAL_AGENT_ID = 'local-agent';

export interface LocalAgentOptions {
  dataDir: string;
  tenant: string;
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
  const passwordFile = path.join(dir, 'mqtt-password');
  await ensureCredentials(options, passwordFile);

  const mayCapture = process.getuid?.() === 0 && process.env.WIREFLEET_LOCAL_AGENT !== 'replay';
  const capture = mayCapture
    ? { interface: 'lo' }
    : { file: await ensureDemoCapture(path.join(dir, 'demo.pcap')) };
  const publicKey = path.join(path.dirname(ADDON_PATH), 'addon-signing.pub');
  const signed = existsSync(`${ADDON_PATH}.sig`) && existsSync(publicKey);
  const config = {
    agent_id: LOCAL_AGENT_ID,
    mqtt: { url: options.mqttUrl, username: LOCAL_AGENT_ID, password_file: passwordFile },
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

/** Registers the agent once; a lost password file gets a fresh password. */
async function ensureCredentials(options: LocalAgentOptions, passwordFile: string) {
  const existing = await options.agents.get(LOCAL_AGENT_ID);
  if (existing && existsSync(passwordFile)) {
    const password = (await readFile(passwordFile, 'utf8')).trim();
    if (await options.agents.verifyPassword(LOCAL_AGENT_ID, password)) return;
  }
  const password = existing
    ? await options.agents.rotatePassword(options.tenant, LOCAL_AGENT_ID)
    : (await options.agents.register(options.tenant, LOCAL_AGENT_ID)).password;
  if (!password) throw new Error(`agent ${LOCAL_AGENT_ID} belongs to another tenant`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
}

/** Generated once and kept, so a restarted agent replays the same flows (same record ids). */
async function ensureDemoCapture(file: string): Promise<string> {
  if (!existsSync(file)) await writeDemoCapture(file, { flows: 200 });
  return file;
}
