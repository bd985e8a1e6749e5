import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AgentLogger } from '../log.js';
import type { ControlEnv } from './env.js';

/** The listen address is unusable or not allowed (a remote address without allowRemote). */
export class ControlServerError extends Error {
  override readonly name = 'ControlServerError';
}

export interface ControlServerOptions {
  app: Hono<ControlEnv>;
  /** "127.0.0.1:8787", "[::1]:8787", "localhost:8787"; port 0 picks a free one. */
  listen: string;
  /** Accept a non-loopback address (the API then faces the network; the token is all it has). */
  allowRemote?: boolean;
  logger?: AgentLogger;
}

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:[\]]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535) {
    throw new ControlServerError(`listen address "${listen}": want HOST:PORT, e.g. 127.0.0.1:8787`);
  }
  return { host: m[1]!, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/** Serves the control app with @hono/node-server; loopback only unless allowRemote. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { host, port } = parseListen(options.listen);
  if (!isLoopback(host) && !options.allowRemote) {
    const why = `control API listen address ${options.listen} is not loopback: refused (the API can start and stop capture; expose it only deliberately, with allowRemote)`;
    options.logger?.error('control API not started', { listen: options.listen, reason: why });
    throw new ControlServerError(why);
  }
  if (!isLoopback(host)) {
    options.logger?.warn('control API listens beyond loopback', { listen: options.listen });
  }
  return new Promise<ControlServer>((resolve, reject) => {
    const server = serve(
      { fetch: options.app.fetch, hostname: host, port },
      (info: AddressInfo) => {
        server.off('error', onError);
        const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${shown}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        });
      },
    );
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new ControlServerError(
          `control API cannot listen on ${options.listen}: ${error.code ?? error.message}`,
        ),
      );
    };
    server.once('error', onError);
  });
}
