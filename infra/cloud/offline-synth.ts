import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';

const run = promisify(execFile);

/**
 * `npx cdk synth` into `outdir` the way a fresh machine runs it: no AWS
 * credentials, profile or instance metadata, no context lookups, no notices
 * or telemetry, and a Docker binary that does not exist, so any attempt at
 * Docker bundling fails instead of passing unnoticed.
 */
export async function synthOffline(outdir: string): Promise<{ ms: number }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^AWS_|^CDK_/.test(key)),
  );
  const started = performance.now();
  await run('npx', ['cdk', 'synth', '--quiet', '--no-lookups', '--no-notices', '-o', outdir], {
    cwd: REPO_ROOT,
    env: {
      ...env,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: path.join(outdir, 'no-credentials'),
      AWS_CONFIG_FILE: path.join(outdir, 'no-config'),
      CDK_DOCKER: path.join(outdir, 'no-docker'),
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return { ms: performance.now() - started };
}
