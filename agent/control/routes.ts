import { type Context, Hono } from 'hono';
import * as z from 'zod';
import {
  captureStartParamsSchema,
  meterConfigureParamsSchema,
} from '../../protocol/agent-messages.js';
import type { CaptureControl } from '../capture/types.js';
import type { EvidenceMetrics } from '../evidence/metrics.js';
import type { AgentLogger } from '../log.js';
import { actorOf, type ControlEnv } from './env.js';
import { errorBody, RequestError } from './errors.js';
import { readJson, readQuery } from './validate.js';

export const stopParamsSchema = z.strictObject({ graceful: z.boolean().optional() });

export const flowQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  min_packets: z.coerce.number().int().min(0).default(0),
  sort_by: z.enum(['packets', 'bytes', 'duration']).default('packets'),
});

export const netflowParamsSchema = z.strictObject({
  /** Numeric IPv4 or IPv6; names are refused (parseCollector says so). */
  collector_ip: z.string().min(1).max(253),
  collector_port: z.number().int().min(1).max(65_535).default(2055),
  export_interval_sec: z.number().int().min(1).max(3600).default(60),
  netflow_version: z.union([z.literal(5), z.literal(10)]).default(5),
});

/**
 * Reads and validates the body of a control action; a refused body is audited under the
 * action's name, as the controller audits what it refuses itself.
 */
async function actionBody<S extends z.ZodType>(
  c: Context<ControlEnv>,
  schema: S,
  action: string,
  logger: AgentLogger,
): Promise<z.output<S>> {
  try {
    return await readJson(c, schema);
  } catch (error) {
    if (error instanceof RequestError) {
      logger.audit(action, {
        actor: actorOf(c),
        outcome: 'refused',
        code: error.code,
        error: error.message,
        encryption: false,
      });
    }
    throw error;
  }
}

/** The seed's /packet_capture/capture/* endpoints (encryption/enable: evidence-routes.ts). */
export function captureRoutes(
  controller: CaptureControl,
  logger: AgentLogger,
  evidenceMetrics?: () => EvidenceMetrics,
) {
  return new Hono<ControlEnv>()
    .get('/backends', (c) => c.json(controller.backends()))
    .post('/start', async (c) => {
      const params = await actionBody(c, captureStartParamsSchema, 'capture.start', logger);
      return c.json(await controller.start(params, actorOf(c)));
    })
    .post('/stop', async (c) => {
      const params = await actionBody(c, stopParamsSchema, 'capture.stop', logger);
      return c.json(await controller.stop(params, actorOf(c)));
    })
    .get('/status', (c) =>
      c.json({
        ...controller.status(),
        ...(evidenceMetrics ? { evidence: evidenceMetrics() } : {}),
      }),
    )
    .get('/metrics', (c) => c.json(controller.metrics()))
    .post('/flow/meter/enable', async (c) => {
      const params = await actionBody(c, meterConfigureParamsSchema, 'meter.configure', logger);
      return c.json(controller.configureMeter(params, actorOf(c)));
    })
    .get('/flows', (c) => c.json(controller.flows(readQuery(c, flowQuerySchema))))
    .post('/netflow/export/enable', async (c) => {
      const params = await actionBody(c, netflowParamsSchema, 'netflow.enable', logger);
      return c.json(controller.enableNetflow(params, actorOf(c)));
    })
    .get('/firmware/verify', (c) => {
      const report = controller.verifyFirmware();
      const algorithm = report.algorithm ?? 'Ed25519';
      const digest = report.addon_sha256 ? { addon_sha256: report.addon_sha256 } : {};
      if (report.status === 'valid') {
        return c.json({
          status: 'valid',
          signature_algorithm: algorithm,
          verified_at: report.verified_at,
          message: report.message,
          ...digest,
        });
      }
      // The seed's {"status":"invalid"} with the usual error object (its message says why).
      return c.json(
        {
          status: 'invalid',
          signature_algorithm: algorithm,
          verified_at: report.verified_at,
          ...digest,
          ...errorBody(
            report.status === 'unsigned' ? 'firmware_unsigned' : 'firmware_invalid',
            report.message,
          ),
        },
        400,
      );
    });
}
