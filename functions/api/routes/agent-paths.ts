import { Hono } from 'hono';
import * as z from 'zod';
import { isPathsStale, pathsAgeSec } from '../../routing/path-preference.js';
import type { StoredPaths } from '../../store/paths.js';
import { pageAfter } from '../../store/query.js';
import type { AppDeps, AppEnv } from '../env.js';
import { ValidationError } from '../errors.js';
import { pageTokensFor } from '../paging.js';
import { timelineQuerySchema } from '../schemas.js';
import { readQuery } from '../validate.js';
import { findTenantAgent } from './agent-credentials.js';

/** GET /agents/{id}/paths: the latest report, or with history=1 the past reports page by page. */
export const pathsQuerySchema = timelineQuerySchema.extend({
  history: z.enum(['0', '1', 'true', 'false']).optional(),
});

/** The latest report as the API shows it: each path with the report's age and staleness. */
export function pathsView(agentId: string, latest: StoredPaths | undefined, nowSec: number) {
  if (!latest) {
    return {
      agent_id: agentId,
      peer: null,
      sent_at: null,
      received_at: null,
      interval_s: null,
      age_s: null,
      stale: null,
      paths: [],
    };
  }
  const age_s = Math.round(pathsAgeSec(latest, nowSec) * 10) / 10;
  const stale = isPathsStale(latest, nowSec);
  return {
    agent_id: agentId,
    peer: latest.peer,
    sent_at: latest.sent_at,
    received_at: latest.received_at,
    interval_s: latest.interval_s,
    age_s,
    stale,
    paths: [...latest.paths]
      .sort((a, b) => a.path_id - b.path_id)
      .map((path) => ({ ...path, age_s, stale })),
  };
}

/** Tango per-path measurements an agent published (issue 12). */
export function agentPathsRoutes(deps: AppDeps) {
  const nowMs = () => deps.now?.() ?? Date.now();
  const pageTokens = pageTokensFor(deps);
  return new Hono<AppEnv>().get('/agents/:id/paths', async (c) => {
    const agent = await findTenantAgent(deps, c);
    const query = readQuery(c, pathsQuerySchema);
    const tenant = c.get('tenant').name;
    const history = query.history === '1' || query.history === 'true';
    if (!history) {
      if (query.next_token !== undefined || c.req.query('limit') !== undefined) {
        throw new ValidationError('limit and next_token page the history: add history=1');
      }
      const latest = await deps.paths.latest(tenant, agent.agentId);
      return c.json(pathsView(agent.agentId, latest, nowMs() / 1000));
    }
    const list = `agents/${agent.agentId}/paths`;
    const cursor = await pageTokens.cursor(tenant, list, {}, query.next_token);
    const page = await deps.paths.page(tenant, agent.agentId, {
      limit: query.limit,
      ...pageAfter(cursor.after),
    });
    return c.json({ history: page.items, next_token: await cursor.tokenFor(page.next) });
  });
}
