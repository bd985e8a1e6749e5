import { ControlError } from '../capture/errors.js';
import type { CaptureStatus } from '../capture/types.js';
import type { AgentLogger } from '../log.js';
import { KeyFileError } from './key-file.js';
import type { SegmentRecorder } from './recorder.js';

/** The spec's POST /packet_capture/capture/encryption/enable, answered by the recorder. */
export interface EncryptionEnableParams {
  cipher_suite: string;
  key_file: string;
}

export interface EncryptionEnableResult {
  /** The spec's three fields. */
  status: 'enabled';
  cipher_suite: string;
  key_file: string;
  /** Names the key without revealing it (the segment headers carry it). */
  key_id: string;
  /** 'now': the running capture's next segment; 'next_start': the next live capture. */
  applies: 'now' | 'next_start';
  note?: string;
}

export interface EvidenceControl {
  enable(params: EncryptionEnableParams, actor: string): EncryptionEnableResult;
}

/** Turns recording on through the recorder and audits it, as the capture controller does. */
export function createEvidenceControl(options: {
  recorder: SegmentRecorder;
  status: () => CaptureStatus;
  logger: AgentLogger;
}): EvidenceControl {
  const { recorder, logger } = options;
  return {
    enable(params, actor) {
      const fields = { cipher_suite: params.cipher_suite, key_file: params.key_file, actor };
      let state: ReturnType<SegmentRecorder['enable']>;
      try {
        state = recorder.enable({ cipher: params.cipher_suite, keyFile: params.key_file });
      } catch (error) {
        const refused =
          error instanceof KeyFileError
            ? new ControlError(400, 'key_file_refused', error.message)
            : new ControlError(400, 'invalid_request', (error as Error).message);
        logger.audit('encryption.enable', {
          ...fields,
          outcome: 'refused',
          code: refused.code,
          error: refused.message,
          encryption: recorder.enabled,
        });
        throw refused;
      }
      const status = options.status();
      const waiting = status.running && !status.recording;
      const note = waiting
        ? status.file
          ? 'a replayed capture file is not recorded; live captures started from now on are'
          : 'the running capture was started without recording; it records from its next start'
        : undefined;
      const result: EncryptionEnableResult = {
        status: 'enabled',
        cipher_suite: state.cipher_suite!,
        key_file: params.key_file,
        key_id: state.key_id!,
        applies: waiting ? 'next_start' : 'now',
        ...(note ? { note } : {}),
      };
      logger.audit('encryption.enable', {
        ...fields,
        outcome: 'ok',
        key_id: result.key_id,
        applies: result.applies,
        encryption: true,
      });
      logger.info('evidence recording enabled', { ...fields, key_id: result.key_id });
      return result;
    },
  };
}
