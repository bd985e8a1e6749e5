import * as z from 'zod';
import { isIPv4, isIPv6 } from './address.js';

/**
 * What an agent running a Tango node publishes on `wirefleet/v1/agents/{id}/paths`:
 * its measurements of each tunnel path to one peer site over the last interval.
 *
 * A path is one outer route to the peer (interface + local/peer IPv6 tunnel address);
 * `peer_rloc` is the peer site's IPv4 routing locator that this path reaches, so the
 * cloud's map-cache can tell which RLOC of an EID each measurement speaks for.
 * Measurements are those of the receiving node (it checks the peer's sequence numbers
 * and timestamps), over `interval_s` seconds ending at `sent_at`.
 *
 * Strict: unknown keys are refused, not stripped, so a typo in an agent shows at once
 * (the schema name carries the version, so a later field comes with /2).
 */

export const PATHS_CHANNEL = 'paths';
export const PATHS_SCHEMA = 'wirefleet.paths/1';
/** The Tango header's path_id is 3 bits. */
export const MAX_PATH_ID = 7;
export const MAX_PATHS = MAX_PATH_ID + 1;

const ipv6Address = z
  .string()
  .max(45)
  .refine((text) => isIPv6(text), 'must be an IPv6 address');
const ipv4Address = z
  .string()
  .max(15)
  .refine((text) => isIPv4(text), 'must be an IPv4 address');
const fraction = z.number().finite().min(0).max(1);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A minute of one-way delay is a broken clock or a dead path, not a measurement. */
const MAX_DELAY_MS = 60_000;

/** Frames refused on this path, by the C core's reason name ("bad_signature", "replay"...). */
const rejectsSchema = z
  .record(z.string().regex(/^[a-z][a-z_]{0,31}$/, 'a reject reason is a snake_case name'), count)
  .refine((r) => Object.keys(r).length <= 32, 'at most 32 reject reasons');

export const tangoPathSchema = z.strictObject({
  path_id: z.number().int().min(0).max(MAX_PATH_ID),
  /** This node's IPv6 tunnel address on the path. */
  local_address: ipv6Address,
  /** The peer node's IPv6 tunnel address on the path. */
  peer_address: ipv6Address,
  /** The peer site's IPv4 RLOC this path reaches. */
  peer_rloc: ipv4Address,
  /** Mean one-way delay, clock offset between the sites removed. */
  delay_ms: z.number().finite().min(0).max(MAX_DELAY_MS),
  /** RFC 3550 interarrival jitter. */
  jitter_ms: z.number().finite().min(0).max(MAX_DELAY_MS),
  /** Lost / expected sequence numbers over the interval. */
  loss: fraction,
  /** Packets accepted after a higher sequence number, over packets accepted. */
  reorder: fraction,
  /** Packets accepted over the interval. */
  packets: count,
  /** Inner bytes accepted per second over the interval, in bits per second. */
  throughput_bps: z.number().finite().min(0).max(1e13),
  rejects: rejectsSchema.optional(),
});
export type TangoPath = z.infer<typeof tangoPathSchema>;

export const tangoPathsSchema = z.strictObject({
  schema: z.literal(PATHS_SCHEMA),
  /** Epoch seconds: end of the measured interval. */
  sent_at: z.number().finite().min(0),
  /** Seconds measured; the agent publishes again after about this long. */
  interval_s: z.number().finite().min(1).max(3600),
  /** The node at the other end of these paths. */
  peer: z.strictObject({
    agent_id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'an agent id')
      .optional(),
    name: z.string().min(1).max(64).optional(),
  }),
  paths: z
    .array(tangoPathSchema)
    .max(MAX_PATHS)
    .superRefine((paths, ctx) => {
      const seen = new Set<number>();
      for (const [i, path] of paths.entries()) {
        if (seen.has(path.path_id)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'path_id'],
            message: `path_id ${path.path_id} appears twice`,
          });
        }
        seen.add(path.path_id);
      }
    }),
});
export type TangoPathsMessage = z.infer<typeof tangoPathsSchema>;
