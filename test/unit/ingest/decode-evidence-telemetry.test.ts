import { describe, expect, it } from 'vitest';
import { buildEvidenceMetrics } from '../../../agent/evidence/metrics.js';
import { decodeUplink } from '../../../functions/ingest/decode.js';
import { agentTopic } from '../../../protocol/agent-messages.js';
import { metrics } from './fixtures.js';

/** What the agent's evidence block looks like, built by the agent's own code. */
const evidence = buildEvidenceMetrics({
  recording: true,
  session_recording: true,
  recorder: {
    segments_recorded: 11,
    bytes_recorded: 10_500_000,
    packets_recorded: 8000,
    write_failures: 0,
  },
  spool: {
    depth_segments: 2,
    depth_bytes: 2_000_000,
    dropped_segments: 0,
    dropped_bytes: 0,
    refused_segments: 1,
    last_seq: 10,
    uploaded_segments: 8,
    uploaded_bytes: 8_000_000,
  },
  uploader: { failed_attempts: 3, uploading: 'a'.repeat(32), last_error: 'x'.repeat(2000) },
} as Parameters<typeof buildEvidenceMetrics>[0]);

describe('evidence telemetry reaches the cloud', () => {
  it("keeps the agent's evidence block in metrics (a long last_error is cut by the agent, not refused)", () => {
    const out = decodeUplink(
      agentTopic('edge-1', 'metrics'),
      JSON.stringify({ ...metrics(1_767_225_700), evidence }),
    );
    expect(out.ok).toBe(true);
    if (out.ok && out.channel === 'metrics') {
      expect(out.message.evidence?.segments_recorded).toBe(11);
      expect(out.message.evidence?.spool.last_seq).toBe(10);
      expect(out.message.evidence?.upload.last_error).toHaveLength(500);
    }
  });

  it('accepts the evidence event types', () => {
    for (const type of ['recording_failed', 'segment_refused']) {
      const event = {
        schema: 'wirefleet.event/1',
        event_id: `e-${type}`,
        sent_at: 1_767_225_700,
        type,
        severity: 'warning',
        message: type,
      };
      expect(decodeUplink(agentTopic('edge-1', 'events'), JSON.stringify(event)).ok, type).toBe(
        true,
      );
    }
  });
});
