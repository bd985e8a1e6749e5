import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentConfigError, DEFAULT_CONFIG_PATH, parseAgentConfig } from '../../agent/config.js';
import { renderInitConfig } from '../../agent/config-template.js';
import {
  installAgentService,
  type ServiceStep,
  uninstallAgentService,
} from '../../agent/systemd.js';
import { AGENT_ID_PATTERN } from '../../protocol/agent-messages.js';
import { UsageError } from './options.js';

/**
 * `wirefleet agent init | install | uninstall`: a starting config, and the
 * agent as a systemd service.
 */

/** A valid agent id from the host name ("Edge_Box.local" → "edge-box"), or edge-1. */
function agentIdFromHostname(): string {
  const id = os
    .hostname()
    .split('.')[0]!
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return AGENT_ID_PATTERN.test(id) ? id : 'edge-1';
}

/** `wirefleet agent init [--out FILE] [--id ID] [--mqtt-url URL] [--force]`. */
export function runAgentInit(values: {
  out?: string;
  id?: string;
  'mqtt-url'?: string;
  force?: boolean;
}): void {
  const out = path.resolve(values.out ?? DEFAULT_CONFIG_PATH);
  const text = renderInitConfig({
    agentId: values.id ?? agentIdFromHostname(),
    ...(values['mqtt-url'] !== undefined ? { mqttUrl: values['mqtt-url'] } : {}),
  });
  // The template is right by construction; what is checked here is --id and --mqtt-url.
  try {
    parseAgentConfig(text, { baseDir: path.dirname(out), source: out });
  } catch (error) {
    if (!(error instanceof AgentConfigError)) throw error;
    const option =
      error.field === 'agent_id' ? '--id' : error.field === 'mqtt.url' ? '--mqtt-url' : undefined;
    throw new UsageError(option ? `${option}: ${error.message.split(': ').at(-1)}` : error.message);
  }
  mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
  if (values.force) {
    const temp = `${out}.${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: 0o600 });
    renameSync(temp, out);
  } else {
    let fd: number;
    try {
      fd = openSync(out, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError(`${out} already exists; pass --force to overwrite it`);
      }
      throw error;
    }
    try {
      writeFileSync(fd, text);
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  }
  process.stdout.write(
    `wrote ${out} (mode 0600); edit it, then: wirefleet agent install --config ${out}\n`,
  );
}

function describeSteps(steps: ServiceStep[]): string {
  return steps
    .map(
      (step) =>
        `  ${step.done ? 'done' : '-'} ${step.description}${step.command ? `: ${step.command.join(' ')}` : ''}\n`,
    )
    .join('');
}

/** Config errors are bad input: exit 2, like other CLI input errors. */
function asUsage(error: unknown): never {
  if (error instanceof AgentConfigError) throw new UsageError(error.message);
  throw error;
}

/** `wirefleet agent install [--config FILE] [--dry-run]`. */
export async function runAgentInstall(values: { config?: string; 'dry-run'?: boolean }) {
  const configPath = path.resolve(values.config ?? DEFAULT_CONFIG_PATH);
  const result = await installAgentService({
    configPath,
    dryRun: values['dry-run'] === true,
  }).catch(asUsage);
  if (result.dryRun) {
    process.stdout.write(
      `# ${result.unitPath} (dry run: nothing written)\n${result.unit}\n# steps:\n${describeSteps(result.steps)}`,
    );
  } else {
    process.stdout.write(
      `installed and started ${path.basename(result.unitPath)}:\n${describeSteps(result.steps)}` +
        'see it with: systemctl status wirefleet-agent; journalctl -u wirefleet-agent\n',
    );
  }
}

/** `wirefleet agent uninstall [--dry-run]`. */
export async function runAgentUninstall(values: { 'dry-run'?: boolean }) {
  const result = await uninstallAgentService({ dryRun: values['dry-run'] === true });
  process.stdout.write(
    `${result.dryRun ? 'would uninstall (dry run: nothing changed)' : 'uninstalled'} ${path.basename(result.unitPath)}; config, token and /var/lib/wirefleet-agent are kept:\n${describeSteps(result.steps)}`,
  );
}
