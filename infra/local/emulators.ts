import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import S3rver from 's3rver';

export interface RunningEmulator {
  endpoint: string;
  close(): Promise<void>;
}

/** s3rver accepts only its own key pair for signed requests. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** dynalite ignores credentials, but the SDK insists on some. */
export const DYNALITE_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** dynalite in this process; LevelDB under `path`, or in memory without one. */
export async function startDynalite(options: {
  path?: string;
  host: string;
  port: number;
}): Promise<RunningEmulator> {
  if (options.path) await mkdir(options.path, { recursive: true });
  const server: Server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** s3rver in this process, storing objects under `directory`. */
export async function startS3rver(options: {
  directory: string;
  host: string;
  port: number;
}): Promise<RunningEmulator> {
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: options.host,
    port: options.port,
    directory: options.directory,
    silent: true,
  });
  const address = await server.run();
  return {
    endpoint: `http://${options.host}:${address.port}`,
    close: () => server.close(),
  };
}
