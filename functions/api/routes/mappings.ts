import { Hono } from 'hono';
import { mappingsSchema } from '../../routing/mappings.js';
import type { AppDeps, AppEnv } from '../env.js';
import { readJson } from '../validate.js';

/** GET/PUT /mappings: the tenant's model catalogue, EID prefixes and source locators. */
export function mappingsRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get('/mappings', async (c) => {
      const tenant = c.get('tenant');
      const { mappings, updatedAt } = await deps.mappings.get(tenant.name);
      return c.json({
        instance_id: tenant.instanceId,
        updated_at: updatedAt,
        is_default: updatedAt === null,
        ...mappings,
      });
    })
    .put('/mappings', async (c) => {
      const tenant = c.get('tenant');
      const mappings = await readJson(c, mappingsSchema);
      const updatedAt = await deps.mappings.put(tenant.name, mappings);
      return c.json({
        instance_id: tenant.instanceId,
        updated_at: updatedAt,
        is_default: false,
        ...mappings,
      });
    });
}
