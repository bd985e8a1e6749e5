import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../functions/logger.js';
import {
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '../../infra/local/stack.js';

export interface TestStack extends LocalStack {
  dataDir: string;
  /** fetch() against the API with the default tenant's token unless another is given. */
  api(
    pathname: string,
    init?: RequestInit & { token?: string | null; json?: unknown },
  ): Promise<Response>;
}

/** The real local stack (dynalite + s3rver + API) on ephemeral ports in a temp dir. */
export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'wirefleet-test-')));
  const stack = await startLocalStack({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    dynamoPort: 0,
    s3Port: 0,
    mqttPort: 0,
    inMemory: true,
    logger: silentLogger,
    ...options,
  });
  return {
    ...stack,
    dataDir,
    api(pathname, init = {}) {
      const { token = stack.token, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set('Authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('Content-Type', 'application/json');
      return fetch(`${stack.apiUrl}${pathname}`, {
        ...rest,
        headers,
        redirect: 'manual',
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
    },
    async stop() {
      const summary = await stack.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
      return summary;
    },
  };
}
