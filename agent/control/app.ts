import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ControlError, toControlError } from '../capture/errors.js';
import type { CaptureControl } from '../capture/types.js';
import type { EvidenceControl } from '../evidence/control.js';
import type { EvidenceMetrics } from '../evidence/metrics.js';
import type { AgentLogger } from '../log.js';
import type { TangoStatus } from '../tango/setup.js';
import { bearerToken } from './auth.js';
import { type ControlEnv, remoteAddress } from './env.js';
import { errorBody, RequestError } from './errors.js';
import { evidenceRoutes } from './evidence-routes.js';
import { captureRoutes } from './routes.js';
import { tangoRoutes } from './tango-routes.js';

export const CONTROL_BASE_PATH = '/packet_capture/capture';
export const MAX_CONTROL_BODY = 64 * 1024;

export interface ControlAppOptions {
  controller: CaptureControl;
  /** The bearer token every request must carry (at least 16 characters). */
  token: string;
  logger: AgentLogger;
  /** Evidence recording (encryption/enable); without it that route answers 503. */
  evidence?: EvidenceControl;
  /** Evidence counters, shown in GET /status as `evidence`. */
  evidenceMetrics?: () => EvidenceMetrics;
  /** The Tango node's state for GET /tango/status; undefined while none runs. */
  tango?: () => TangoStatus | undefined;
}

/**
 * The agent's local control API: the seed's capture endpoints over the capture controller.
 * Every route needs the bearer token; every answer is JSON, errors as {"error":{"code","message"}}.
 */
export function createControlApp({
  controller,
  token,
  logger,
  evidence,
  evidenceMetrics,
  tango,
}: ControlAppOptions) {
  const app = new Hono<ControlEnv>();
  app.use(async function requestLog(c, next) {
    const started = performance.now();
    await next();
    logger.info('control request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      remote: remoteAddress(c),
    });
  });
  app.use(bearerToken(token, logger));
  app.use(
    bodyLimit({
      maxSize: MAX_CONTROL_BODY,
      onError: () => {
        throw new RequestError(413, 'payload_too_large', 'request bodies are limited to 64 KiB');
      },
    }),
  );
  app.route(CONTROL_BASE_PATH, captureRoutes(controller, logger, evidenceMetrics));
  app.route(CONTROL_BASE_PATH, evidenceRoutes(evidence, logger));
  app.route('/', tangoRoutes(tango ?? (() => undefined)));

  app.notFound((c) =>
    c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404),
  );
  app.onError((err, c) => {
    if (err instanceof RequestError) return c.json(errorBody(err.code, err.message), err.status);
    const mapped = toControlError(err);
    if (mapped instanceof ControlError) {
      return c.json(errorBody(mapped.code, mapped.message), mapped.status);
    }
    // Never a 500 with a stack: the detail goes to the log, the client gets a generic 503.
    logger.error('control request failed', {
      error: err.message,
      stack: err.stack,
      method: c.req.method,
      path: c.req.path,
    });
    return c.json(
      errorBody('internal_unavailable', 'the agent could not handle this request; see its log'),
      503,
    );
  });
  return app;
}

export type ControlApp = ReturnType<typeof createControlApp>;
