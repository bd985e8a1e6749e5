import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { CaptureBackend, TimestampSource } from '../../native/capture.js';
import type { CaptureStartParams } from '../../protocol/agent-messages.js';
import { ControlError } from './errors.js';
import type { CaptureDefaults } from './types.js';

/** What a start() request resolves to, with the configured defaults filled in. */
export type SessionPlan =
  | { kind: 'file'; file: string; bufferSizeMb: number; replayLoopSec: number }
  | {
      kind: 'live';
      interface: string;
      backend: CaptureBackend;
      filter: string;
      /** 0 = whole packets. */
      snaplen: number;
      bufferSizeMb: number;
      timestampSource: TimestampSource;
      promiscuous: boolean;
    };

/** What status() and events say about the session. */
export interface SessionInfo {
  interface: string | null;
  file?: string;
  backend: string;
  buffer_size_mb: number;
  timestamp_source: string;
  filter: string;
}

export function sessionInfo(plan: SessionPlan): SessionInfo {
  if (plan.kind === 'file') {
    return {
      interface: null,
      file: plan.file,
      backend: 'file',
      buffer_size_mb: plan.bufferSizeMb,
      timestamp_source: 'file',
      filter: '',
    };
  }
  return {
    interface: plan.interface,
    backend: plan.backend,
    buffer_size_mb: plan.bufferSizeMb,
    timestamp_source: plan.timestampSource,
    filter: plan.filter,
  };
}

const invalid = (message: string) => new ControlError(400, 'invalid_request', message);

/**
 * The request's own source (interface or file) first, then the configured one; refuses
 * combinations the engine cannot run, with a one-line reason.
 */
export function planSession(params: Partial<CaptureStartParams>, c: CaptureDefaults): SessionPlan {
  if (params.interface !== undefined && params.file !== undefined) {
    throw invalid('give interface or file, not both');
  }
  let file: string | undefined;
  let iface: string | undefined;
  if (params.interface !== undefined) iface = params.interface;
  else if (params.file !== undefined) file = params.file;
  else if (params.backend === 'file') file = c.file ?? undefined;
  else if (params.backend !== undefined) iface = c.interface ?? undefined;
  else if (c.file) file = c.file;
  else iface = c.interface ?? undefined;
  const bufferSizeMb = params.buffer_size_mb ?? c.buffer_size_mb;
  const filter = params.filter_expr ?? c.filter;

  if (file !== undefined) {
    if (params.backend !== undefined && params.backend !== 'file') {
      throw invalid(`backend ${params.backend} captures from an interface, not a file`);
    }
    if (filter !== '') {
      throw new ControlError(
        400,
        'unsupported',
        'filters apply to live capture; a file is metered whole',
      );
    }
    checkCaptureFile(file);
    return { kind: 'file', file, bufferSizeMb, replayLoopSec: c.replay_loop_sec };
  }
  if (iface === undefined) {
    throw new ControlError(
      400,
      'no_source',
      params.backend === 'file'
        ? 'backend file needs a file to replay'
        : 'give an interface to capture on, or a file to replay',
    );
  }
  const backend = params.backend ?? (c.backend === 'file' ? 'afpacket' : c.backend);
  if (backend === 'file') throw invalid('backend file needs a file to replay');
  const snaplen = params.snaplen ?? c.snaplen;
  if (snaplen !== 0 && (snaplen < 64 || snaplen > 262_144)) {
    throw invalid(`snaplen must be 0 (whole packets) or 64..262144, got ${snaplen}`);
  }
  return {
    kind: 'live',
    interface: iface,
    backend,
    filter,
    snaplen,
    bufferSizeMb,
    timestampSource: params.timestamp_source ?? c.timestamp_source,
    promiscuous: c.promiscuous,
  };
}

// pcap (µs and ns, both byte orders) and pcapng section header magics.
const CAPTURE_MAGICS = new Set(['a1b2c3d4', 'd4c3b2a1', 'a1b23c4d', '4d3cb2a1', '0a0d0d0a']);

/**
 * Refuses at start() what the engine would only refuse once the run began (after we answered).
 * Opened non-blocking: a blocking open of a FIFO waits for a writer and freezes the agent.
 */
export function checkCaptureFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ControlError(
      400,
      'invalid_capture_file',
      `${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  try {
    if (!fstatSync(fd).isFile()) {
      throw new ControlError(400, 'not_a_file', `${file}: not a regular file`);
    }
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n < 4 || !CAPTURE_MAGICS.has(head.toString('hex'))) {
      throw new ControlError(400, 'invalid_capture_file', `${file}: not a pcap or pcapng file`);
    }
  } finally {
    closeSync(fd);
  }
}
