import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AgentConfig,
  AgentConfigError,
  configDefaults,
  loadAgentConfig,
} from '../../agent/config.js';
import { ControlServerError } from '../../agent/control/server.js';
import { runAgent } from '../../agent/daemon.js';
import { AddonIntegrityError } from '../../agent/integrity.js';
import { readSecretFile, SecretFileError } from '../../agent/secret-file.js';
import { agentIdSchema } from '../../protocol/agent-messages.js';
import { UsageError } from './options.js';

/** Exit codes systemd's unit treats as "do not restart": bad config, refused addon. */
export const EXIT_BAD_CONFIG = 2;
export const EXIT_INTEGRITY = 3;

/** The agent config named by --config; a missing option or a bad config is a usage error (exit 2). */
async function configFromArgs(file: string | undefined, command: string): Promise<AgentConfig> {
  if (!file) throw new UsageError(`usage: wirefleet agent ${command} --config FILE`);
  try {
    return await loadAgentConfig(file);
  } catch (error) {
    if (error instanceof AgentConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** `wirefleet agent run --config FILE`: the daemon in the foreground until SIGTERM/SIGINT. */
export async function runAgentCommand(values: {
  config?: string | undefined;
  'allow-unsigned'?: boolean | undefined;
}): Promise<number> {
  const config = await configFromArgs(values.config, 'run');
  // Signals are caught from the start: a stop during start-up (systemctl stop right
  // after start) is carried out once the agent is up, not by the default handler.
  let agent: Awaited<ReturnType<typeof runAgent>> | undefined;
  let pending: string | undefined;
  const stop = (signal: string) => {
    if (!agent) {
      pending = signal;
      return;
    }
    agent.stop(signal).catch((error: Error) => {
      process.stderr.write(`wirefleet agent: error while stopping: ${error.message}\n`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    agent = await runAgent(config, { allowUnsigned: values['allow-unsigned'] === true });
  } catch (error) {
    // A bad token file or a refused listen address is configuration: exit 2, no restart.
    if (error instanceof SecretFileError || error instanceof ControlServerError) {
      process.stderr.write(`wirefleet agent: ${error.message}\n`);
      return EXIT_BAD_CONFIG;
    }
    if (error instanceof AddonIntegrityError) {
      process.stderr.write(
        `wirefleet agent: refusing to start: ${error.message} (use --allow-unsigned to override)\n`,
      );
      return EXIT_INTEGRITY;
    }
    throw error;
  }
  if (pending) stop(pending);
  await agent.stopped;
  return 0;
}

interface RegisterResponse {
  agent_id: string;
  mqtt: { url?: string; username: string; password: string; client_id: string };
}

/**
 * `wirefleet agent register --id ID`: creates the agent's credentials through
 * the API and writes a complete agent config next to a 0600 password file.
 */
export async function runAgentRegister(values: {
  id?: string | undefined;
  out?: string | undefined;
  api?: string | undefined;
  'mqtt-url'?: string | undefined;
  interface?: string | undefined;
  file?: string | undefined;
  'state-dir'?: string | undefined;
  'control-listen'?: string | undefined;
}): Promise<void> {
  const id = agentIdSchema.safeParse(values.id);
  if (!id.success) {
    throw new UsageError(
      `usage: wirefleet agent register --id ID [--out FILE]: the id ${id.error.issues[0]?.message ?? 'is invalid'}`,
    );
  }
  if (values.interface && values.file) throw new UsageError('give --interface or --file, not both');
  const token = process.env.WIREFLEET_API_TOKEN;
  if (!token) throw new UsageError('set WIREFLEET_API_TOKEN to an API token of the tenant');
  const api = (values.api ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');

  let response: Response;
  try {
    response = await fetch(`${api}/api/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: id.data }),
    });
  } catch (error) {
    throw new Error(`cannot reach the API at ${api}: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as
    | RegisterResponse
    | { error?: { message?: string } };
  if (!response.ok || !('mqtt' in body)) {
    const reason = ('error' in body && body.error?.message) || `HTTP ${response.status}`;
    throw new Error(`registration refused: ${reason}`);
  }
  const mqttUrl = values['mqtt-url'] ?? body.mqtt.url;
  if (!mqttUrl) throw new UsageError('the API did not say where its broker is: pass --mqtt-url');

  const out = path.resolve(values.out ?? `${id.data}.agent.json`);
  const stateDir = path.resolve(
    values['state-dir'] ?? path.join(path.dirname(out), `${id.data}-state`),
  );
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // A state directory someone else owns or may write to could hand the password to them.
  const dirStat = await stat(stateDir);
  if (dirStat.uid !== process.getuid?.() || (dirStat.mode & 0o022) !== 0) {
    throw new UsageError(
      `${stateDir} must be yours and not writable by group or others (pick another --state-dir)`,
    );
  }
  const passwordFile = path.join(stateDir, 'mqtt-password');
  // Never through a file or link that was there before: remove it, then create exclusively.
  await rm(passwordFile, { force: true });
  await writeFile(passwordFile, `${body.mqtt.password}\n`, { mode: 0o600, flag: 'wx' });
  const config = {
    agent_id: id.data,
    mqtt: { url: mqttUrl, username: body.mqtt.username, password_file: passwordFile },
    capture: values.file
      ? { file: path.resolve(values.file) }
      : { interface: values.interface ?? 'lo' },
    spool: { dir: path.join(stateDir, 'spool') },
    control: {
      listen: values['control-listen'] ?? '127.0.0.1:8001',
      token_file: path.join(stateDir, 'control-token'),
    },
    integrity: { public_key_file: defaultPublicKeyFile() },
  };
  await writeFile(out, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(
    `agent ${id.data} registered; config written to ${out}\nrun it with: wirefleet agent run --config ${out}\n`,
  );
}

/**
 * The installed trust anchor when there is one (`agent install` puts it in
 * /etc/wirefleet); otherwise, for development, the key the build left beside
 * the addon, which `agent install` refuses.
 */
function defaultPublicKeyFile(): string {
  const installed = configDefaults.integrity.public_key_file;
  if (existsSync(installed)) return installed;
  return path.resolve(
    path.dirname(new URL(import.meta.url).pathname),
    '../../native/build/Release/addon-signing.pub',
  );
}

/**
 * `wirefleet agent status --config FILE`: asks the running agent's control API
 * (address and token from its config) for its status and metrics.
 */
export async function runAgentStatus(values: { config?: string | undefined }): Promise<number> {
  const config = await configFromArgs(values.config, 'status');
  if (!config.control.enabled) throw new UsageError('this agent has control.enabled = false');
  const token = readSecretFile(config.control.token_file, 'control token file');
  const host = config.control.host.includes(':') ? `[${config.control.host}]` : config.control.host;
  const base = `http://${host}:${config.control.port}/packet_capture/capture`;
  const get = async (what: string) => {
    const response = await fetch(`${base}/${what}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return response.json() as Promise<Record<string, unknown>>;
  };
  let status: Record<string, unknown>;
  let metrics: Record<string, unknown>;
  try {
    [status, metrics] = await Promise.all([get('status'), get('metrics')]);
  } catch (error) {
    process.stderr.write(
      `wirefleet agent: no agent answers at ${base} (${(error as Error).message}); is it running?\n`,
    );
    return 1;
  }
  process.stdout.write(
    `${JSON.stringify({ agent_id: config.agent_id, status, metrics }, null, 2)}\n`,
  );
  return 0;
}
