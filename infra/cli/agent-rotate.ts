import { loadAgentConfig } from '../../agent/config/load.js';
import { AgentConfigError } from '../../agent/config.js';
import { RegistrationRefusedError, renewCertificate } from './agent-enroll.js';
import { UsageError } from './options.js';

export interface RotateValues {
  config?: string | undefined;
  api?: string | undefined;
}

/**
 * `wirefleet agent rotate --config FILE`: a new key on this host and a new
 * certificate for it, in the files the config names. The API deactivates the
 * old certificate once the new one is in place, so the running agent loses its
 * connection and must be restarted to log in with the new files; its spool
 * keeps everything meanwhile. A refusal leaves the old key and certificate.
 */
export async function runAgentRotate(values: RotateValues): Promise<string> {
  if (!values.config)
    throw new UsageError('usage: wirefleet agent rotate --config FILE [--api URL]');
  const token = process.env.WIREFLEET_API_TOKEN;
  if (!token) throw new UsageError('set WIREFLEET_API_TOKEN to an API token of the tenant');
  let config: Awaited<ReturnType<typeof loadAgentConfig>>;
  try {
    config = await loadAgentConfig(values.config);
  } catch (error) {
    if (error instanceof AgentConfigError) throw new UsageError(error.message);
    throw error;
  }
  const { key_file, cert_file, ca_file } = config.mqtt;
  if (key_file === null || cert_file === null || ca_file === null) {
    throw new UsageError(
      `${values.config} logs in with a password, not a certificate: register the agent again without --password-login to move it to a certificate`,
    );
  }
  const api = (values.api ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
  let answer: Awaited<ReturnType<typeof renewCertificate>>;
  try {
    answer = await renewCertificate({
      api,
      token,
      agentId: config.agent_id,
      files: { key_file, cert_file, ca_file },
      rotate: true,
    });
  } catch (error) {
    if (error instanceof RegistrationRefusedError) {
      throw new Error(`rotation refused: ${error.message}; the old key and certificate stay`);
    }
    throw error;
  }
  const until = answer.certificate.not_after ? `, valid until ${answer.certificate.not_after}` : '';
  return (
    `agent ${config.agent_id}: new key ${key_file} and certificate ${answer.certificate.certificate_id}${until}; the old certificate is deactivated.\n` +
    'restart the agent to log in with it: sudo systemctl restart wirefleet-agent (or stop and start wirefleet agent run)\n'
  );
}
