import { type AgentConfig, AgentConfigError, loadAgentConfig } from '../../agent/config.js';
import { ControlServerError } from '../../agent/control/server.js';
import { runAgent } from '../../agent/daemon.js';
import { KeyFileError } from '../../agent/evidence/key-file.js';
import { AddonIntegrityError } from '../../agent/integrity.js';
import { readSecretFile, SecretFileError } from '../../agent/secret-file.js';
import { UsageError } from './options.js';
import { FORCED_EXIT_STATUS, onStopSignals, type StopSignal } from './stop-signals.js';

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
  // A second signal (not a copy of the first: see onStopSignals) ends it at once: the spool
  // is crash-safe, so what was not yet published is still there for the next run.
  let agent: Awaited<ReturnType<typeof runAgent>> | undefined;
  let pending: StopSignal | undefined;
  const stop = (signal: StopSignal) => {
    if (!agent) {
      pending = signal;
      return;
    }
    agent.stop(signal).catch((error: Error) => {
      process.stderr.write(`wirefleet agent: error while stopping: ${error.message}\n`);
      process.exit(1);
    });
  };
  onStopSignals({
    stop,
    force(signal) {
      const code = FORCED_EXIT_STATUS[signal];
      process.stderr.write(
        `wirefleet agent: ${signal} again while stopping: exiting now (status ${code})\n`,
      );
      process.exit(code);
    },
  });
  try {
    agent = await runAgent(config, { allowUnsigned: values['allow-unsigned'] === true });
  } catch (error) {
    // A bad token file or a refused listen address is configuration: exit 2, no restart.
    if (
      error instanceof SecretFileError ||
      error instanceof ControlServerError ||
      error instanceof KeyFileError
    ) {
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
