import { Hono } from 'hono';
import type { StoredFlow } from '../../store/flows.js';
import type { AppDeps, AppEnv } from '../env.js';
import { NotFoundError } from '../errors.js';
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

/** GET /flows: the tenant's flow records from its agents, filtered and sorted. */
export function flowRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get('/flows', async (c) => {
    const q = readQuery(c, flowsQuerySchema);
    const tenant = c.get('tenant').name;
    // Another tenant's agent is as unknown here as on /agents/{id}.
    if (q.agent_id !== undefined && !(await deps.agents.getForTenant(tenant, q.agent_id))) {
      throw new NotFoundError(`no agent "${q.agent_id}"`, 'agent_not_found');
    }
    const { flows, truncated } = await deps.flows.queryWithInfo(tenant, {
      ...(q.agent_id !== undefined ? { agentId: q.agent_id } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      limit: q.limit,
      minPackets: q.min_packets,
      sortBy: q.sort_by,
    });
    // The sort covers the newest FLOW_QUERY_READ_CAP records of the window; say when it was cut.
    if (truncated) c.header('X-Wirefleet-Truncated', 'true');
    return c.json(flows.map(flowView));
  });
}
