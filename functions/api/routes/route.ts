import { randomInt } from 'node:crypto';
import { Hono } from 'hono';
import type { PathIndex } from '../../routing/path-preference.js';
import { routeQuery } from '../../routing/router.js';
import { AlreadyExistsError } from '../../store/errors.js';
import { createPacketIdGenerator } from '../../store/packet-id.js';
import { packetFromDecision } from '../../store/packets.js';
import type { AppDeps, AppEnv } from '../env.js';
import { routeRequestSchema } from '../schemas.js';
import { readJson } from '../validate.js';

const cryptoRandom = (bits: number) => randomInt(0, 2 ** bits);

/** Agents' fresh Tango path measurements; routing goes on without them when they cannot be read. */
async function tangoPathsFor(deps: AppDeps, tenant: string): Promise<PathIndex | undefined> {
  try {
    return await deps.tangoPaths?.pathsFor(tenant);
  } catch (error) {
    deps.logger.warn('tango paths unavailable; routing without them', {
      tenant,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** POST /route: classify, choose model and RLOC, build and store the LISP packet. */
export function routeRoutes(deps: AppDeps) {
  const nextPacketId = createPacketIdGenerator();
  return new Hono<AppEnv>().post('/route', async (c) => {
    const body = await readJson(c, routeRequestSchema);
    const tenant = c.get('tenant');
    const { mappings: configured } = await deps.mappings.get(tenant.name);
    // Agents' heartbeats add EID prefixes and decide which of their RLOCs are up.
    const { mappings, registrations } = await deps.agentRouting.routingFor(tenant.name, configured);
    const paths = await tangoPathsFor(deps, tenant.name);
    // Another instance may take the same ID in the same millisecond: route again with a new one.
    for (let attempt = 1; ; attempt++) {
      const nowMs = deps.now?.() ?? Date.now();
      const timestampUs = Math.floor(nowMs * 1000);
      const packetId = nextPacketId(nowMs);
      const { decision, frame } = routeQuery(
        { query: body.query, sourceEid: body.source_eid, priority: body.priority },
        {
          instanceId: tenant.instanceId,
          mappings,
          registrations,
          ...(paths ? { paths } : {}),
          packetId,
          timestampUs,
          random: cryptoRandom,
        },
      );
      try {
        const { statsUpdated } = await deps.packets.put(
          tenant.name,
          packetFromDecision(packetId, timestampUs, decision, frame),
        );
        if (!statsUpdated) deps.logger.warn('packet stored but stats not updated', { packetId });
        return c.json(decision);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError) || attempt >= 3) throw error;
      }
    }
  });
}
