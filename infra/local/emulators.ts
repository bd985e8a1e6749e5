import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { installPartCopy } from './s3rver-part-copy.js';

export interface RunningEmulator {
  endpoint: string;
  /**
   * Stops accepting, lets requests in progress finish (up to graceMs, default
   * 5 s), then cuts what is left and closes. Cutting first would leave
   * dynalite's handlers running against a closed database ("Database is closed").
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** server.close() with a bound: Node closes idle keep-alive connections at once, busy ones at the bound. */
async function closeGracefully(
  server: Pick<Server, 'close' | 'closeAllConnections' | 'closeIdleConnections'>,
  graceMs = 5000,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
  });
  await Promise.race([closed, cut]);
  await closed;
  clearTimeout(timer);
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
    // dynalite's own close() waits for its database operations once the connections are gone.
    close: (options = {}) => closeGracefully(server, options.graceMs),
  };
}

/** s3rver in this process, storing objects under `directory`, with UploadPartCopy added. */
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
  installPartCopy(server);
  const address = await server.run();
  // s3rver.close() is httpServer.close(): it would wait for every download however long.
  const { httpServer } = server as unknown as { httpServer: Server };
  return {
    endpoint: `http://${options.host}:${address.port}`,
    close: (options = {}) => closeGracefully(httpServer, options.graceMs),
  };
}
