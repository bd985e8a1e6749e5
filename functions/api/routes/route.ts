import { randomInt } from 'node:crypto';
import { Hono } from 'hono';
import { routeQuery } from '../../routing/router.js';
import { createPacketIdGenerator } from '../../store/packet-id.js';
import type { AppDeps, AppEnv } from '../env.js';
import { routeRequestSchema } from '../schemas.js';
import { readJson } from '../validate.js';

const cryptoRandom = (bits: number) => randomInt(0, 2 ** bits);

/** POST /route: classify, choose model and RLOC, build and store the LISP packet. */
export function routeRoutes(deps: AppDeps) {
  const nextPacketId = createPacketIdGenerator();
  return new Hono<AppEnv>().post('/route', async (c) => {
    const body = await readJson(c, routeRequestSchema);
    const tenant = c.get('tenant');
    const { mappings } = await deps.mappings.get(tenant.name);
    const nowMs = deps.now?.() ?? Date.now();
    const timestampUs = Math.floor(nowMs * 1000);
    const packetId = nextPacketId(nowMs);
    const { decision, frame } = routeQuery(
      { query: body.query, sourceEid: body.source_eid, priority: body.priority },
      { instanceId: tenant.instanceId, mappings, packetId, timestampUs, random: cryptoRandom },
    );
    await deps.packets.put(tenant.name, {
      id: packetId,
      timestampUs,
      model: decision.selected_model,
      workloadType: decision.workload_type,
      record: decision.lisp_packet,
      frame,
    });
    return c.json(decision);
  });
}
