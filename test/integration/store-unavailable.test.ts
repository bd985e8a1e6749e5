import { describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { silentLogger } from '../../functions/logger.js';
import { DEFAULT_TABLES } from '../../functions/store/config.js';

describe('when the store is unreachable', () => {
  it('answers 503 store_unavailable, not 500, and leaks no SDK detail', async () => {
    // Port 9 (discard) on loopback: nothing listens, so every call is refused.
    const deps = createAppDeps(
      {
        region: 'us-east-1',
        ...DEFAULT_TABLES,
        dynamoEndpoint: 'http://127.0.0.1:9',
        s3Endpoint: 'http://127.0.0.1:9',
        dynamoCredentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        s3Credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      },
      { logger: silentLogger },
    );
    const app = createApp(deps);
    const res = await app.request('/api/v1/packets/stats', {
      headers: { Authorization: 'Bearer wf_x' },
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('store_unavailable');
    expect(body.error.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at /);
    const health = await app.request('/api/v1/health');
    expect(health.status).toBe(200);
  });
});
