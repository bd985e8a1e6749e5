import { describe, expect, it } from 'vitest';
import {
  type CustodyEntry,
  describeEvidence,
  mergeEntries,
} from '../../../../web/src/pages/custody/custody-logic.js';

const entry = (patch: Partial<CustodyEntry>): CustodyEntry => ({
  entry_id: 'e1',
  at: '2026-12-04T17:00:00.000Z',
  action: 'window_link',
  token_id: '3f09c2d41a7be850',
  request_id: 'r',
  agent_ids: ['edge-1'],
  ...patch,
});

describe('custody log helpers', () => {
  it('names what was handed out: a segment, a window with its count, or a job', () => {
    expect(describeEvidence(entry({ action: 'segment_link', segment_id: 'ab'.repeat(16) }))).toBe(
      'segment abababababab…',
    );
    expect(describeEvidence(entry({ window_id: '5c'.repeat(16), segments: 3 }))).toBe(
      'window 5c5c5c5c5c5c… (3 segments)',
    );
    expect(describeEvidence(entry({ window_id: 'ab12', segments: 1 }))).toBe(
      'window ab12 (1 segment)',
    );
    expect(describeEvidence(entry({ action: 'window_job', job_id: `win_${'0'.repeat(32)}` }))).toBe(
      'job win_00000000…',
    );
    expect(describeEvidence(entry({}))).toBe('—');
  });

  it('keeps each entry once when a refreshed first page overlaps the older pages', () => {
    const merged = mergeEntries(
      [entry({ entry_id: 'c' }), entry({ entry_id: 'b' })],
      [entry({ entry_id: 'b' }), entry({ entry_id: 'a' })],
    );
    expect(merged.map((e) => e.entry_id)).toEqual(['c', 'b', 'a']);
  });
});
