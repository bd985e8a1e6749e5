import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { VERSION } from '../version.js';
import type { AppDeps, AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bearerAuth } from './middleware/auth.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { requestLog } from './middleware/request-log.js';
import { agentPathsRoutes } from './routes/agent-paths.js';
import { agentRoutes } from './routes/agents.js';
import { docsRoutes } from './routes/docs.js';
import { flowRoutes } from './routes/flows.js';
import { healthRoutes } from './routes/health.js';
import { mappingsRoutes } from './routes/mappings.js';
import { packetRoutes } from './routes/packets.js';
import { routeRoutes } from './routes/route.js';
import { segmentRoutes } from './routes/segments.js';

export const API_VERSION = VERSION;
export const MAX_JSON_BODY = 64 * 1024;
export const MAX_MAPPINGS_BODY = 1024 * 1024;

/** 64 KiB for ordinary requests; mappings documents may be larger. */
function jsonBodyLimit(): MiddlewareHandler<AppEnv> {
  const limiter = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(
          413,
          'payload_too_large',
          `request bodies here are limited to ${maxSize / 1024} KiB`,
        );
      },
    });
  const small = limiter(MAX_JSON_BODY);
  const large = limiter(MAX_MAPPINGS_BODY);
  return function jsonBodyLimitMiddleware(c, next) {
    return (c.req.path.endsWith('/mappings') ? large : small)(c, next);
  };
}

/**
 * The one Hono app: the local server, the Lambda handler and the tests all
 * run exactly this.
 */
export function createApp(deps: AppDeps) {
  const api = new Hono<AppEnv>()
    .route('/', healthRoutes(API_VERSION))
    .use(bearerAuth(deps.tenants))
    .use(jsonBodyLimit())
    .route('/', routeRoutes(deps))
    .route('/', mappingsRoutes(deps))
    .route('/', packetRoutes(deps))
    .route('/', agentRoutes(deps))
    .route('/', agentPathsRoutes(deps))
    .route('/', flowRoutes(deps))
    .route('/', segmentRoutes(deps));

  const app = new Hono<AppEnv>()
    .use(requestLog(deps.logger))
    .use(secureHeaders({ crossOriginResourcePolicy: false }))
    .route('/', docsRoutes(API_VERSION))
    .route('/api/v1', api);
  app.onError(errorHandler(deps.logger));
  app.notFound(notFoundHandler);
  return app;
}

export type App = ReturnType<typeof createApp>;
