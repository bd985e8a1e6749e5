import { Hono } from 'hono';
import type { TangoStatus } from '../tango/setup.js';
import type { ControlEnv } from './env.js';
import { errorBody } from './errors.js';

/**
 * GET /tango/status: the node's forwarder counters, the path each class was asked onto, the
 * clock offset estimate and the last interval's measurements; 404 when no node runs.
 */
export function tangoRoutes(status: () => TangoStatus | undefined) {
  return new Hono<ControlEnv>().get('/tango/status', (c) => {
    const current = status();
    if (!current) {
      return c.json(
        errorBody(
          'tango_not_running',
          'no Tango node runs here (tango.enabled in the agent config)',
        ),
        404,
      );
    }
    return c.json(current);
  });
}
