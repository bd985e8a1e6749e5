import { describe, expect, it } from 'vitest';
import { signedManifestSchema } from '../../../../protocol/evidence/window-manifest.js';
import {
  describeMissing,
  describeMissingCount,
  fromLocalInput,
  listedRange,
  manifestFilename,
  manifestFileText,
  mergeSegments,
  type SegmentView,
  segmentFilename,
  shortHex,
  toLocalInput,
  windowQuery,
} from '../../../../web/src/pages/agents/segment-logic.js';

function segment(seq: number, startedAt: number, endedAt: number): SegmentView {
  return {
    segment_id: String(seq).padStart(32, '0'),
    agent_id: 'edge-1',
    seq,
    started_at: startedAt,
    ended_at: endedAt,
    packets: 10,
    bytes: 4096,
    sha256: 'ab'.repeat(32),
    cipher: 'AES-256-GCM',
    key_id: 'cd'.repeat(16),
    recorded_at: new Date(endedAt * 1000).toISOString(),
    retained_until: endedAt + 86_400,
  };
}

describe('segments table', () => {
  it('shortens a digest and leaves a short value whole', () => {
    expect(shortHex('ab'.repeat(32))).toBe('abababababab…');
    expect(shortHex('cd'.repeat(16), 8)).toBe('cdcdcdcd…');
    expect(shortHex('abc')).toBe('abc');
  });

  it('appends later pages and keeps a segment listed twice once', () => {
    const merged = mergeSegments(
      [segment(1, 100, 160), segment(2, 160, 220)],
      [segment(2, 160, 220), segment(3, 220, 280)],
    );
    expect(merged.map((s) => s.seq)).toEqual([1, 2, 3]);
  });

  it('names the files as the API does', () => {
    expect(segmentFilename('0f'.repeat(16))).toBe(`segment-${'0f'.repeat(16)}.wfe`);
    expect(manifestFilename('1a'.repeat(16))).toBe(`window-${'1a'.repeat(16)}.manifest.json`);
  });
});

describe('window form', () => {
  it('defaults to the listed range widened to whole minutes', () => {
    // Minutes start at epoch seconds divisible by 60: 1_699_999_980, 1_700_000_040, ... 1_700_000_280.
    const range = listedRange([
      segment(2, 1_700_000_100, 1_700_000_250),
      segment(1, 1_700_000_030, 1_700_000_100),
    ]);
    expect(range).toEqual({ since: 1_699_999_980_000, until: 1_700_000_280_000 });
    expect(listedRange([])).toBeUndefined();
  });

  it('round-trips local times through the datetime-local input', () => {
    const ms = new Date(2026, 0, 5, 10, 7).getTime();
    expect(toLocalInput(ms)).toBe('2026-01-05T10:07');
    expect(fromLocalInput('2026-01-05T10:07')).toBe(ms);
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('not a time')).toBeUndefined();
    expect(toLocalInput(undefined)).toBe('');
  });

  it('asks the API in epoch seconds for the agent', () => {
    const since = new Date(2026, 0, 5, 10, 0).getTime() / 1000;
    const until = new Date(2026, 0, 5, 11, 30).getTime() / 1000;
    expect(windowQuery('edge-1', '2026-01-05T10:00', '2026-01-05T11:30')).toEqual({
      query: { agent_id: 'edge-1', since, until },
    });
  });

  it('refuses a missing end or a start after the end, naming the field', () => {
    expect(windowQuery('edge-1', '', '2026-01-05T11:30')).toEqual({
      errors: { since: 'Enter the start of the window' },
    });
    expect(windowQuery('edge-1', '2026-01-05T10:00', '')).toEqual({
      errors: { until: 'Enter the end of the window' },
    });
    expect(windowQuery('edge-1', '2026-01-05T12:00', '2026-01-05T11:30')).toEqual({
      errors: { since: 'The start must not be after the end' },
    });
  });
});

describe('window manifest', () => {
  it('saves the manifest and its signature as the CLI reads them', () => {
    const manifest = { window_id: '1a'.repeat(16), since: 1, until: 2, missing_seqs: {} };
    const signature = { alg: 'Ed25519', key_id: 'ef'.repeat(16), public_key: 'pk', value: 'sig' };
    const text = manifestFileText({ manifest, signature });
    expect(JSON.parse(text)).toEqual({ manifest, signature });
    expect(text.endsWith('\n')).toBe(true);
  });

  it('writes a file the CLI takes as a signed window manifest, unchanged', () => {
    const manifest = {
      format: 'wirefleet.window-manifest/1',
      window_id: '1a'.repeat(16),
      tenant: 'default',
      agent_ids: ['edge-1'],
      since: 100,
      until: 400,
      created_at: '2026-01-05T10:00:00.000Z',
      bytes: 4096,
      segments: [
        {
          agent_id: 'edge-1',
          seq: 1,
          segment_id: '0f'.repeat(16),
          sha256: 'ab'.repeat(32),
          bytes: 4096,
          offset: 0,
          started_at: 100,
          ended_at: 160,
          packets: 10,
          cipher: 'AES-256-GCM',
          key_id: 'cd'.repeat(16),
        },
      ],
      missing_seqs: { 'edge-1': [] },
    };
    const signature = {
      alg: 'Ed25519',
      key_id: 'ef'.repeat(16),
      public_key: 'cGs=',
      value: 'c2ln',
    };
    const parsed = signedManifestSchema.safeParse(
      JSON.parse(manifestFileText({ manifest, signature })),
    );
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual({ manifest, signature });
  });

  it('describes the gaps per agent, and none when there are none', () => {
    expect(describeMissing({ 'edge-1': [4, 5], 'edge-2': [] })).toBe('edge-1: 4, 5');
    expect(describeMissing({ 'edge-2': [] })).toBeUndefined();
    expect(describeMissing({})).toBeUndefined();
  });

  it('counts a window job’s gaps (its manifest lists them)', () => {
    expect(describeMissingCount(3)).toBe('3 sequence numbers (listed in the manifest)');
    expect(describeMissingCount(1)).toBe('1 sequence number (listed in the manifest)');
    expect(describeMissingCount(0)).toBeUndefined();
    expect(describeMissingCount(undefined)).toBeUndefined();
  });
});
