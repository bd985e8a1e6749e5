import { type ChildProcess, spawn } from 'node:child_process';
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

export async function startMotoS3(): Promise<MotoS3> {
  const port = await freePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
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
    child.once('error', (error) =>
      reject(new Error(`moto_server did not start (pip package moto): ${error.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`moto_server exited with ${code}: ${log}`)));
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
