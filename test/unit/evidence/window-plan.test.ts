import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManifestSigner } from '../../../functions/evidence/manifest-signer.js';
import { MAX_PARTS, planWindow } from '../../../functions/evidence/window-assembly.js';
import { missingSeqs } from '../../../functions/evidence/window-download.js';
import type { SegmentRecord } from '../../../functions/store/segments.js';
import {
  canonicalManifestBytes,
  WINDOW_MANIFEST_FORMAT,
  type WindowManifest,
} from '../../../protocol/evidence/window-manifest.js';

const MiB = 1024 * 1024;
const src = (name: string, mib: number) => ({ key: name, bytes: Math.round(mib * MiB) });
const shape = (plan: ReturnType<typeof planWindow>) =>
  plan.map((p) =>
    p.kind === 'whole' ? p.source.key : `[${p.sources.map((s) => s.key).join('+')}]`,
  );

describe('planWindow: parts of at least 5 MiB but the last', () => {
  it('copies large segments whole and gathers small ones until a group reaches 5 MiB', () => {
    expect(shape(planWindow([src('a', 6), src('b', 0.1), src('c', 0.2)]))).toEqual(['a', '[b+c]']);
    expect(shape(planWindow([src('a', 0.1), src('b', 7), src('c', 0.05), src('d', 0.07)]))).toEqual(
      ['[a+b]', '[c+d]'],
    );
    expect(shape(planWindow([src('a', 2), src('b', 2), src('c', 2), src('d', 6)]))).toEqual([
      '[a+b+c]',
      'd',
    ]);
    expect(shape(planWindow([src('a', 0.5)]))).toEqual(['a']);
    expect(planWindow([])).toEqual([]);
  });

  it('never leaves a part under 5 MiB anywhere but last, and keeps every segment in order', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 200; round++) {
      const sources = Array.from({ length: 1 + Math.floor(next() * 30) }, (_, i) =>
        src(`s${i}`, next() < 0.3 ? 5 + next() * 10 : next() * 3),
      );
      const plan = planWindow(sources);
      const sizes = plan.map((p) => (p.kind === 'whole' ? p.source.bytes : p.bytes));
      for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(5 * MiB);
      expect(plan.flatMap((p) => (p.kind === 'whole' ? [p.source] : p.sources))).toEqual(sources);
      expect(plan.length).toBeLessThanOrEqual(MAX_PARTS);
    }
  });
});

describe('missingSeqs', () => {
  it('names the gaps between the first and last segment', () => {
    const seg = (seq: number) => ({ seq }) as SegmentRecord;
    expect(missingSeqs([seg(3), seg(4), seg(7), seg(5)])).toEqual([6]);
    expect(missingSeqs([seg(0)])).toEqual([]);
  });
});

describe('window manifest signature', () => {
  const manifest: WindowManifest = {
    format: WINDOW_MANIFEST_FORMAT,
    window_id: 'a'.repeat(32),
    tenant: 'default',
    agent_ids: ['edge-1'],
    since: 1,
    until: 2,
    created_at: '2026-01-01T00:00:00.000Z',
    bytes: 10,
    segments: [
      {
        agent_id: 'edge-1',
        seq: 0,
        segment_id: 'b'.repeat(32),
        sha256: 'c'.repeat(64),
        bytes: 10,
        offset: 0,
        started_at: 1,
        ended_at: 2,
        packets: 3,
        cipher: 'AES-256-GCM',
        key_id: 'd'.repeat(32),
      },
    ],
    missing_seqs: { 'edge-1': [] },
  };

  it('signs the canonical bytes (sorted keys, no whitespace), whatever the key order', async () => {
    const pair = generateKeyPairSync('ed25519');
    const keys = {
      keyPair: async () => ({
        privateKey: new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' })),
        publicKey: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
      }),
    };
    const signed = await new ManifestSigner(keys).sign(manifest);
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as WindowManifest;
    const bytes = canonicalManifestBytes(reordered);
    expect(new TextDecoder().decode(bytes).startsWith('{"agent_ids":["edge-1"],"bytes":10,')).toBe(
      true,
    );
    const signature = Buffer.from(signed.signature.value, 'base64');
    expect(verify(null, bytes, pair.publicKey, signature)).toBe(true);
    const changed = { ...manifest, bytes: 11 };
    expect(verify(null, canonicalManifestBytes(changed), pair.publicKey, signature)).toBe(false);
    expect(signed.signature.key_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
