import type { EvidenceMetrics } from '../../protocol/agent-messages.js';
import type { RecorderStats } from './recorder.js';
import type { SegmentSpoolStats } from './segment-spool.js';
import type { UploaderStats } from './uploader.js';

/** Evidence recording as the agent's metrics message and the control API's status show it. */
export type { EvidenceMetrics } from '../../protocol/agent-messages.js';

export function buildEvidenceMetrics(input: {
  recording: boolean;
  session_recording: boolean;
  recorder: RecorderStats;
  spool: SegmentSpoolStats;
  uploader: UploaderStats;
}): EvidenceMetrics {
  const { recorder, spool, uploader } = input;
  return {
    recording_enabled: input.recording,
    session_recording: input.session_recording,
    segments_recorded: recorder.segments_recorded,
    bytes_recorded: recorder.bytes_recorded,
    packets_recorded: recorder.packets_recorded,
    write_failures: recorder.write_failures,
    spool: {
      depth_segments: spool.depth_segments,
      depth_bytes: spool.depth_bytes,
      dropped_segments: spool.dropped_segments,
      dropped_bytes: spool.dropped_bytes,
      refused_segments: spool.refused_segments,
      last_seq: spool.last_seq,
    },
    upload: {
      uploaded_segments: spool.uploaded_segments,
      uploaded_bytes: spool.uploaded_bytes,
      failed_attempts: uploader.failed_attempts,
      uploading: uploader.uploading,
      // The cloud takes at most 500 characters here (protocol/agent-messages.ts).
      last_error: uploader.last_error?.slice(0, 500) ?? null,
    },
  };
}
