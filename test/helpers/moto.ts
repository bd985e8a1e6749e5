import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort } from './mosquitto.js';

/**
 * moto's S3 server (the Python `moto` package, in this machine's image): a real S3
 * implementation that, unlike s3rver, has UploadPartCopy (with ranges) and refuses non-final
 * parts under 5 MiB with EntityTooSmall, as AWS does. Like s3rver it checks neither signatures
 * nor x-amz-checksum-sha256 on PUT.
 */
export interface MotoS3 {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Whether moto's server can start here. moto comes from PyPI, which this project's installs
 * cannot reach (npm and Debian only), so tests that need it run only where it already is, as
 * the corpus tests run only where the corpus is; they say so when skipped.
 */
export function motoAvailable(): boolean {
  const script = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  if (!script.error && script.status === 0) return true;
  return spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0;
}

export async function startMotoS3(): Promise<MotoS3> {
  try {
    return await launch('moto_server', []);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // No console script on PATH: the module itself, as pip installs it.
    return launch('python3', ['-m', 'moto.server']);
  }
}

async function launch(command: string, prefix: string[]): Promise<MotoS3> {
  const port = await freePort();
  const child: ChildProcess = spawn(command, [...prefix, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Running on')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(
        new Error(
          `${command} ${prefix.join(' ')} exited with ${code} (moto's S3 server: pip install 'moto[server]'): ${log.slice(-500)}`,
        ),
      ),
    );
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
