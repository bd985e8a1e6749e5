import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configDefaults } from '../../agent/config.js';
import { agentIdSchema } from '../../protocol/agent-messages.js';
import {
  postToApi,
  RegistrationRefusedError,
  renewCertificate,
  writeFresh,
} from './agent-enroll.js';
import { UsageError } from './options.js';

/**
 * `wirefleet agent register --id ID`: makes the agent's private key here
 * (ECDSA P-256, 0600), sends the API only a CSR, and writes the certificate,
 * the CA bundle and a complete mqtts:// agent config. With --password-login,
 * the older flow for brokers without TLS: a password in a 0600 file.
 */

/** Files in the state directory. */
export const KEY_FILE = 'agent.key';
export const CERT_FILE = 'agent.crt';
export const CA_FILE = 'ca.crt';
export const PASSWORD_FILE = 'mqtt-password';

export interface RegisterValues {
  id?: string | undefined;
  out?: string | undefined;
  api?: string | undefined;
  'mqtt-url'?: string | undefined;
  interface?: string | undefined;
  file?: string | undefined;
  'state-dir'?: string | undefined;
  'control-listen'?: string | undefined;
  'password-login'?: boolean | undefined;
}

export async function runAgentRegister(values: RegisterValues): Promise<void> {
  const id = agentIdSchema.safeParse(values.id);
  if (!id.success) {
    throw new UsageError(
      `usage: wirefleet agent register --id ID [--out FILE]: the id ${id.error.issues[0]?.message ?? 'is invalid'}`,
    );
  }
  const agentId = id.data;
  if (values.interface && values.file) throw new UsageError('give --interface or --file, not both');
  const token = process.env.WIREFLEET_API_TOKEN;
  if (!token) throw new UsageError('set WIREFLEET_API_TOKEN to an API token of the tenant');
  const api = (values.api ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
  const out = path.resolve(values.out ?? `${agentId}.agent.json`);
  const stateDir = path.resolve(
    values['state-dir'] ?? path.join(path.dirname(out), `${agentId}-state`),
  );
  await prepareStateDir(stateDir);

  let mqtt: Record<string, unknown>;
  try {
    mqtt = values['password-login']
      ? await registerWithPassword({ api, token, agentId, stateDir, mqttUrl: values['mqtt-url'] })
      : await registerWithCertificate({
          api,
          token,
          agentId,
          stateDir,
          mqttUrl: values['mqtt-url'],
        });
  } catch (error) {
    if (error instanceof RegistrationRefusedError) {
      throw new Error(`registration refused: ${error.message}`);
    }
    throw error;
  }
  const config = {
    agent_id: agentId,
    mqtt,
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
    `agent ${agentId} registered (${values['password-login'] ? 'password login' : `certificate; key ${path.join(stateDir, KEY_FILE)} stays on this host`}); config written to ${out}\nrun it with: wirefleet agent run --config ${out}\n`,
  );
}

/** A state directory someone else owns or may write to could swap the key or read it. */
async function prepareStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const dirStat = await stat(stateDir);
  if (dirStat.uid !== process.getuid?.() || (dirStat.mode & 0o022) !== 0) {
    throw new UsageError(
      `${stateDir} must be yours and not writable by group or others (pick another --state-dir)`,
    );
  }
}

async function registerWithCertificate(o: {
  api: string;
  token: string;
  agentId: string;
  stateDir: string;
  mqttUrl: string | undefined;
}): Promise<Record<string, unknown>> {
  const keyFile = path.join(o.stateDir, KEY_FILE);
  if (existsSync(keyFile)) {
    throw new UsageError(
      `${keyFile} exists: an agent was registered from this state directory; pick another --state-dir (or remove it if that agent is gone)`,
    );
  }
  const files = {
    key_file: keyFile,
    cert_file: path.join(o.stateDir, CERT_FILE),
    ca_file: path.join(o.stateDir, CA_FILE),
  };
  // The key is on disk before the CSR leaves, so a certificate never exists without it.
  const answer = await renewCertificate({ ...o, files, rotate: false });
  return {
    url: o.mqttUrl ?? answer.mqtt.url,
    client_id: answer.mqtt.client_id,
    ...files,
  };
}

interface PasswordAnswer {
  mqtt: { url?: string; username: string; password: string };
}

async function registerWithPassword(o: {
  api: string;
  token: string;
  agentId: string;
  stateDir: string;
  mqttUrl: string | undefined;
}): Promise<Record<string, unknown>> {
  const answer = (await postToApi(o.api, o.token, '/api/v1/agents', {
    agent_id: o.agentId,
  })) as Partial<PasswordAnswer>;
  if (typeof answer.mqtt?.password !== 'string') {
    throw new RegistrationRefusedError('the API answered without a password', 200, undefined);
  }
  const mqttUrl = o.mqttUrl ?? answer.mqtt.url;
  if (!mqttUrl) throw new UsageError('the API did not say where its broker is: pass --mqtt-url');
  const passwordFile = path.join(o.stateDir, PASSWORD_FILE);
  await writeFresh(passwordFile, `${answer.mqtt.password}\n`, 0o600);
  return { url: mqttUrl, username: answer.mqtt.username, password_file: passwordFile };
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
