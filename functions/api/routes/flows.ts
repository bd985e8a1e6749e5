import { Hono } from 'hono';
import type { StoredFlow } from '../../store/flows.js';
import { pageAfter } from '../../store/query.js';
import type { AppDeps, AppEnv } from '../env.js';
import { NotFoundError } from '../errors.js';
import { InvalidNextTokenError, pageTokensFor } from '../paging.js';
import { flowsQuerySchema } from '../schemas.js';
import { readQuery } from '../validate.js';

/** The seed's flow shape (packet-capture API §7) plus what identifies and completes a record. */
export function flowView(flow: StoredFlow) {
  return {
    flow_id: flow.flow_id,
    src_ip: flow.src_ip,
    dst_ip: flow.dst_ip,
    src_port: flow.src_port,
    dst_port: flow.dst_port,
    protocol: flow.protocol,
    packets: flow.packets,
    bytes: flow.bytes,
    bytes_fwd: flow.bytes_fwd,
    bytes_rev: flow.bytes_rev,
    first_seen: flow.first_seen,
    last_seen: flow.last_seen,
    state: flow.state,
    duration_sec: flow.duration_sec,
    tcp_flags: flow.tcp_flags,
    agent_id: flow.agent_id,
    record_id: flow.record_id,
    ip_version: flow.ip_version,
    vlan_id: flow.vlan_id,
    packets_fwd: flow.packets_fwd,
    packets_rev: flow.packets_rev,
    end_reason: flow.end_reason,
  };
}

/** Where the next page of /flows starts: a header, since the body is the seed's bare array. */
export const NEXT_TOKEN_HEADER = 'X-Wirefleet-Next-Token';

/**
 * GET /flows: the tenant's flow records from its agents. sort_by=packets,
 * bytes or duration ranks the newest export of each flow (a top-N, not
 * paged); sort_by=time lists every stored record in store order, newest
 * last_seen first, and pages through the whole window with next_token.
 */
export function flowRoutes(deps: AppDeps) {
  const pageTokens = pageTokensFor(deps);
  return new Hono<AppEnv>().get('/flows', async (c) => {
    const { next_token, ...q } = readQuery(c, flowsQuerySchema);
    const tenant = c.get('tenant').name;
    // Another tenant's agent is as unknown here as on /agents/{id}.
    if (q.agent_id !== undefined && !(await deps.agents.getForTenant(tenant, q.agent_id))) {
      throw new NotFoundError(`no agent "${q.agent_id}"`, 'agent_not_found');
    }
    const window = {
      ...(q.agent_id !== undefined ? { agentId: q.agent_id } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      limit: q.limit,
      minPackets: q.min_packets,
    };
    if (q.sort_by === 'time') {
      const cursor = await pageTokens.cursor(tenant, 'flows', q, next_token);
      const page = await deps.flows.page(tenant, { ...window, ...pageAfter(cursor.after) });
      const token = await cursor.tokenFor(page.next);
      if (token !== null) c.header(NEXT_TOKEN_HEADER, token);
      return c.json(page.flows.map(flowView));
    }
    if (next_token !== undefined) {
      throw new InvalidNextTokenError(
        `does not apply to sort_by=${q.sort_by}: a ranking is not paged (use sort_by=time)`,
      );
    }
    const { flows, truncated } = await deps.flows.queryWithInfo(tenant, {
      ...window,
      sortBy: q.sort_by,
    });
    // The sort covers the newest FLOW_QUERY_READ_CAP records of the window; say when it was cut.
    if (truncated) c.header('X-Wirefleet-Truncated', 'true');
    return c.json(flows.map(flowView));
  });
}
