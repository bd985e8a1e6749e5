import { CaptureOpenError, CaptureRunError, FilterError } from '../../native/capture.js';
import { InvalidCollectorError } from '../../native/exporter.js';
import { InvalidCaptureFileError, NativeEngineUnavailableError } from '../../native/index.js';

/** A refused or failed control action, with the HTTP status and code the control API answers. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function openError(error: CaptureOpenError): ControlError {
  switch (error.reason) {
    case 'ENODEV':
      return new ControlError(400, 'no_such_interface', error.message);
    case 'EPERM':
    case 'EACCES':
      return new ControlError(403, 'permission', error.message);
    case 'ENETDOWN':
      return new ControlError(409, 'interface_down', error.message);
    case 'EOPNOTSUPP':
      return new ControlError(400, 'unsupported', error.message);
    case 'EINVAL':
      return new ControlError(400, 'invalid_request', error.message);
    default:
      return new ControlError(503, 'capture_unavailable', error.message);
  }
}

/**
 * The engine's typed errors as ControlErrors; anything else is returned unchanged (the
 * control API turns it into a generic 503 and logs it).
 */
export function toControlError(error: unknown): unknown {
  if (error instanceof ControlError) return error;
  if (error instanceof NativeEngineUnavailableError) {
    return new ControlError(503, 'engine_unavailable', error.message);
  }
  if (error instanceof FilterError) return new ControlError(400, 'invalid_filter', error.message);
  if (error instanceof CaptureOpenError) return openError(error);
  if (error instanceof CaptureRunError) {
    return new ControlError(503, 'capture_failed', error.message);
  }
  if (error instanceof InvalidCaptureFileError) {
    return new ControlError(400, 'invalid_capture_file', error.message);
  }
  if (error instanceof InvalidCollectorError) {
    return new ControlError(400, 'invalid_collector', error.message);
  }
  // The engine's option checks (FlowMeter, exporter) throw RangeError with a readable reason.
  if (error instanceof RangeError) return new ControlError(400, 'invalid_request', error.message);
  return error;
}
