import type { CaptureStatus } from '../capture/types.js';
import type { AgentConfig } from '../config.js';
import type { AgentLogger } from '../log.js';
import { createEvidenceControl, type EvidenceControl } from './control.js';
import { buildEvidenceMetrics, type EvidenceMetrics } from './metrics.js';
import { type EvidenceEvent, SegmentRecorder } from './recorder.js';
import { SegmentSpool } from './segment-spool.js';
import { type SegmentUplinkPort, SegmentUploader, uplinkSegmentTransport } from './uploader.js';

/** The agent's evidence parts, wired together (the daemon starts and stops them). */
export interface Evidence {
  recorder: SegmentRecorder;
  uploader: SegmentUploader;
  spool: SegmentSpool;
  /** For the control API; status comes from the capture controller, made after this. */
  control(status: () => CaptureStatus): EvidenceControl;
  metrics(sessionRecording: boolean): EvidenceMetrics;
}

/**
 * Opens the evidence spool and makes the recorder and uploader. The spool opens even with
 * recording off, so segments of an earlier run still go up. With recording on, a spool that
 * cannot open or a refused key file (KeyFileError: missing, not 0600, not a key) stops the
 * agent; with it off, a spool that cannot open leaves the agent running without evidence
 * (undefined, logged: encryption/enable then answers that recording is unavailable).
 */
export async function openEvidence(options: {
  config: Pick<AgentConfig, 'agent_id' | 'evidence'>;
  uplink: SegmentUplinkPort;
  logger: AgentLogger;
  onEvent: EvidenceEvent;
}): Promise<Evidence | undefined> {
  const { config, logger, onEvent } = options;
  const e = config.evidence;
  let spool: SegmentSpool;
  try {
    spool = await SegmentSpool.open({
      dir: e.spool_dir,
      maxBytes: e.max_spool_mb * 1024 * 1024,
      logger,
      onOverflow: (overflow) =>
        onEvent(
          'spool_overflow',
          'warning',
          'evidence spool full: the oldest segments were dropped',
          {
            ...overflow,
          },
        ),
    });
  } catch (error) {
    if (e.enabled) throw error;
    logger.error('evidence spool cannot open: recording and uploads unavailable', {
      dir: e.spool_dir,
      error: (error as Error).message,
    });
    return undefined;
  }
  let uploader: SegmentUploader | undefined;
  const recorder = new SegmentRecorder({
    agentId: config.agent_id,
    spool,
    segmentBytes: e.segment_mb * 1024 * 1024,
    segmentSeconds: e.segment_seconds,
    logger,
    onEvent,
    onRecorded: () => uploader?.notify(),
  });
  if (e.enabled) recorder.enable({ cipher: e.cipher, keyFile: e.key_file! });
  uploader = new SegmentUploader({
    spool,
    transport: uplinkSegmentTransport(options.uplink),
    logger,
    onEvent,
  });
  const up = uploader;
  return {
    recorder,
    uploader: up,
    spool,
    control: (status) => createEvidenceControl({ recorder, status, logger }),
    metrics: (sessionRecording) =>
      buildEvidenceMetrics({
        recording: recorder.enabled,
        session_recording: sessionRecording,
        recorder: recorder.stats(),
        spool: spool.stats(),
        uploader: up.stats(),
      }),
  };
}
