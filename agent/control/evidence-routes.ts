import path from 'node:path';
import { Hono } from 'hono';
import * as z from 'zod';
import { CIPHER_SUITES, cipherBySuite } from '../../protocol/evidence/format.js';
import type { EvidenceControl } from '../evidence/control.js';
import type { AgentLogger } from '../log.js';
import { actorOf, type ControlEnv } from './env.js';
import { errorBody, RequestError } from './errors.js';
import { readJson } from './validate.js';

export const encryptionEnableSchema = z.strictObject({
  /** The spec's names, case-insensitively; answered in the spec's spelling. */
  cipher_suite: z
    .string()
    .refine((v) => cipherBySuite(v) !== undefined, `must be one of ${CIPHER_SUITES.join(', ')}`)
    .transform((v) => cipherBySuite(v)!.suite),
  key_file: z
    .string()
    .min(1)
    .max(4096)
    .refine((v) => path.isAbsolute(v), 'must be an absolute path'),
});

/** POST /encryption/enable (under /packet_capture/capture). */
export function evidenceRoutes(evidence: EvidenceControl | undefined, logger: AgentLogger) {
  return new Hono<ControlEnv>().post('/encryption/enable', async (c) => {
    let params: z.output<typeof encryptionEnableSchema>;
    try {
      params = await readJson(c, encryptionEnableSchema);
    } catch (error) {
      if (error instanceof RequestError) {
        logger.audit('encryption.enable', {
          actor: actorOf(c),
          outcome: 'refused',
          code: error.code,
          error: error.message,
        });
      }
      throw error;
    }
    if (!evidence) {
      return c.json(
        errorBody(
          'recording_unavailable',
          'evidence recording is unavailable on this agent: its evidence spool could not be opened (see its log)',
        ),
        503,
      );
    }
    return c.json(evidence.enable(params, actorOf(c)));
  });
}
