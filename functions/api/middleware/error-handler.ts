import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from '../../logger.js';
import { NoPacketsError } from '../../pcap/export.js';
import { NoRouteError } from '../../routing/router.js';
import { StoreUnavailableError } from '../../store/errors.js';
import type { AppEnv } from '../env.js';
import { ApiError, errorBody } from '../errors.js';

/** Maps every failure to `{"error": {"code", "message"}}`; stacks go to the log, never to clients. */
export function errorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return function handleError(err, c) {
    const reply = (status: ContentfulStatusCode, code: string, message: string) =>
      c.json(errorBody(code, message), status);
    if (err instanceof ApiError) return reply(err.status, err.code, err.message);
    if (err instanceof NoPacketsError) return reply(404, 'no_packets', err.message);
    if (err instanceof NoRouteError) return reply(503, 'no_route', err.message);
    if (err instanceof StoreUnavailableError) {
      logger.error('store unavailable', { error: err.message, cause: String(err.cause) });
      return reply(503, 'store_unavailable', 'the data store is unavailable; retry shortly');
    }
    // Node's "aborted": the connection closed mid-request (the client left, or a stop's drain
    // bound cut it). Nobody is there to answer, and nothing on this side broke.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && err.message === 'aborted') {
      logger.info('request aborted before it arrived in full', { path: c.req.path });
      return reply(400, 'request_aborted', 'the request did not arrive in full');
    }
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      return reply(status, status === 413 ? 'payload_too_large' : 'http_error', err.message);
    }
    logger.error('unhandled error', {
      error: err.message,
      stack: err.stack,
      path: c.req.path,
      requestId: c.get('requestId'),
    });
    return reply(500, 'internal_error', 'internal error; see the server log');
  };
}

export const notFoundHandler: NotFoundHandler<AppEnv> = (c) =>
  c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
