import * as z from 'zod';
import { CIPHER_SUITES, type CipherSuite } from './format.js';

/**
 * The window manifest (issue 11): what an assembled window object holds, in order, signed by
 * the cloud with Ed25519. Per-segment STREAM catches changes inside a segment; only this catches
 * whole segments dropped, duplicated, reordered or spliced in from elsewhere. `wirefleet pcap
 * decrypt --manifest FILE` checks the signature, that the file is exactly `bytes` long, that the
 * byte range of every entry hashes to its SHA-256, and that each segment's header carries the
 * entry's segment id; only then does it write plaintext.
 *
 * The signature covers canonicalManifestBytes(manifest): the manifest as JSON with object keys
 * sorted and no whitespace, UTF-8. Pure: no Node built-ins (signing and checking are the
 * cloud's and the CLI's).
 */

export const WINDOW_MANIFEST_FORMAT = 'wirefleet.window-manifest/1';

const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));

export const windowEntrySchema = z.strictObject({
  agent_id: z.string().min(1).max(63),
  seq: z.number().int().nonnegative(),
  segment_id: hex(32),
  sha256: hex(64),
  bytes: z.number().int().positive(),
  /** Where the segment starts in the window object. */
  offset: z.number().int().nonnegative(),
  started_at: z.number().nonnegative(),
  ended_at: z.number().nonnegative(),
  packets: z.number().int().nonnegative(),
  cipher: z.enum(CIPHER_SUITES as [CipherSuite, ...CipherSuite[]]),
  key_id: hex(32),
});
export type WindowEntry = z.infer<typeof windowEntrySchema>;

export const windowManifestSchema = z.strictObject({
  format: z.literal(WINDOW_MANIFEST_FORMAT),
  window_id: hex(32),
  tenant: z.string().min(1),
  agent_ids: z.array(z.string()).min(1),
  since: z.number().nonnegative(),
  until: z.number().nonnegative(),
  created_at: z.string(),
  /** Size of the window object: the entries' bytes, back to back. */
  bytes: z.number().int().nonnegative(),
  segments: z.array(windowEntrySchema),
  /**
   * Per agent, the sequence numbers between its first and last listed segment that the cloud
   * has no record of (never uploaded, or expired): a gap the window cannot fill.
   */
  missing_seqs: z.record(z.string(), z.array(z.number().int().nonnegative())),
});
export type WindowManifest = z.infer<typeof windowManifestSchema>;

export const manifestSignatureSchema = z.strictObject({
  alg: z.literal('Ed25519'),
  /** First 16 bytes of SHA-256 over the public key's SPKI DER, hex. */
  key_id: hex(32),
  /** SPKI DER of the public key, base64 (check key_id against a pinned one to trust it). */
  public_key: z.string().min(1),
  /** Signature over canonicalManifestBytes(manifest), base64. */
  value: z.string().min(1),
});
export type ManifestSignature = z.infer<typeof manifestSignatureSchema>;

/** What the API serves beside the window's link, and what `--manifest FILE` reads. */
export const signedManifestSchema = z.object({
  manifest: windowManifestSchema,
  signature: manifestSignatureSchema,
});
export type SignedManifest = z.infer<typeof signedManifestSchema>;

/** JSON with sorted object keys and no whitespace, as UTF-8: the bytes the signature covers. */
export function canonicalManifestBytes(manifest: WindowManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(manifest));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
