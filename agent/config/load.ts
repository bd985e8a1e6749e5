import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readSecretBytes, readSecretFile, SecretFileError } from '../secret-file.js';
import { AgentConfigError } from './defaults.js';
import { type AgentConfig, parseAgentConfig } from './parse.js';

/** Reads, validates and completes the config: secret and TLS files are read now. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AgentConfigError(
      source,
      undefined,
      code === 'ENOENT'
        ? 'does not exist (create one with: wirefleet agent init)'
        : `cannot read: ${(error as Error).message}`,
    );
  }
  const config = parseAgentConfig(text, { baseDir: path.dirname(source), source });
  const { mqtt } = config;
  const read = async <T>(field: string, load: () => Promise<T>): Promise<T> => {
    try {
      return await load();
    } catch (error) {
      const detail =
        error instanceof SecretFileError
          ? error.message
          : `${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message}`;
      throw new AgentConfigError(source, field, detail);
    }
  };
  if (mqtt.password_file !== null) {
    const file = mqtt.password_file;
    mqtt.password = await read('mqtt.password_file', async () =>
      readSecretFile(file, 'password file'),
    );
  }
  if (mqtt.ca_file !== null) {
    const file = mqtt.ca_file;
    mqtt.ca = await read('mqtt.ca_file', () => readFile(file));
  }
  if (mqtt.cert_file !== null && mqtt.key_file !== null) {
    const [certFile, keyFile] = [mqtt.cert_file, mqtt.key_file];
    mqtt.cert = await read('mqtt.cert_file', () => readFile(certFile));
    mqtt.key = await read('mqtt.key_file', async () => readSecretBytes(keyFile, 'key file'));
  }
  return config;
}
