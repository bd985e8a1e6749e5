import { describe, expect, it } from 'vitest';
import { decodeUplink } from '../../../functions/ingest/decode.js';
import { parseAgentTopic } from '../../../protocol/agent-messages.js';

const request = {
  type: 'upload_request',
  segment_id: 'a'.repeat(32),
  seq: 4,
  bytes: 1000,
  sha256: 'b'.repeat(64),
  cipher: 'AES-128-GCM',
  key_id: 'c'.repeat(32),
  started_at: 1_700_000_000,
  ended_at: 1_700_000_060,
  packets: 9,
};

describe('decodeUplink: the segments channel', () => {
  it('takes upload_request and upload_complete on segments, the agent from the topic', () => {
    const decoded = decodeUplink('wirefleet/v1/agents/edge-1/segments', JSON.stringify(request));
    expect(decoded).toEqual({ ok: true, agentId: 'edge-1', channel: 'segments', message: request });
    const complete = { type: 'upload_complete', segment_id: 'a'.repeat(32) };
    expect(
      decodeUplink('wirefleet/v1/agents/edge-1/segments', JSON.stringify(complete)),
    ).toMatchObject({ ok: true, message: complete });
  });

  it('refuses a forged tenant or agent field (strict schema), bad ids and sizes', () => {
    for (const bad of [
      { ...request, tenant: 'other' },
      { ...request, segment_id: 'XYZ' },
      { ...request, bytes: 0 },
      { ...request, cipher: 'rot13' },
      { type: 'upload_url', segment_id: 'a'.repeat(32) },
    ]) {
      const decoded = decodeUplink('wirefleet/v1/agents/edge-1/segments', JSON.stringify(bad));
      expect(decoded.ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('treats uploads as a downlink channel that agents do not publish on', () => {
    expect(parseAgentTopic('wirefleet/v1/agents/edge-1/uploads')).toEqual({
      agentId: 'edge-1',
      channel: 'uploads',
    });
    const decoded = decodeUplink(
      'wirefleet/v1/agents/edge-1/uploads',
      JSON.stringify({ type: 'upload_confirmed', segment_id: 'a'.repeat(32) }),
    );
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringMatching(/downlink channel/) });
  });
});
