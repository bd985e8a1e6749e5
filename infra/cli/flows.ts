import { FlowExporter, InvalidCollectorError, parseCollector } from '../../native/exporter.js';
import { type FileRunResult, FlowMeter, InvalidCaptureFileError } from '../../native/index.js';
import { FLOW_FORMATS, type FlowFormat, flowFormatter } from './flow-format.js';
import { intOption, UsageError } from './options.js';

export interface FlowsOptions {
  read?: string;
  format?: string;
  'idle-timeout'?: string;
  'active-timeout'?: string;
  'max-flows'?: string;
  /** Collectors, HOST:PORT; repeatable and/or comma-separated. */
  export?: string | string[];
  'netflow-version'?: string;
}

const STDOUT_FD = 1;

/** A capture file could not be read: exit code 2 with one line. */
export class CaptureFileError extends Error {
  override readonly name = 'CaptureFileError';
}

/** --export values (repeatable, comma-separated) and --netflow-version, validated. */
function exporterFromArgs(values: FlowsOptions): FlowExporter | undefined {
  const raw = values.export === undefined ? [] : [values.export].flat();
  const targets = raw
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (targets.length === 0) {
    if (raw.length > 0) throw new UsageError('--export needs HOST:PORT');
    if (values['netflow-version'] !== undefined) {
      throw new UsageError('--netflow-version only applies with --export HOST:PORT');
    }
    return undefined;
  }
  const version = values['netflow-version'] ?? '10';
  if (version !== '5' && version !== '10') {
    throw new UsageError(`--netflow-version must be 5 or 10 (IPFIX), got "${version}"`);
  }
  if (targets.length > 8) throw new UsageError(`--export takes at most 8 collectors`);
  try {
    for (const t of targets) parseCollector(t);
  } catch (error) {
    if (error instanceof InvalidCollectorError) throw new UsageError(`--export: ${error.message}`);
    throw error;
  }
  return new FlowExporter({ version: version === '5' ? 5 : 10, targets });
}

/** stdout's reader went away (`| head`): stop without a stack trace. */
function quietOnEpipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
}

/**
 * `wirefleet flows --read FILE`: meters a capture file in the C engine and
 * prints one flow per line; the summary goes to stderr.
 */
export function runFlows(values: FlowsOptions): void {
  if (!values.read) throw new UsageError('--read FILE is required (a pcap or pcapng file)');
  const format = (values.format ?? 'ndjson') as FlowFormat;
  if (!FLOW_FORMATS.includes(format)) {
    throw new UsageError(`--format must be one of ${FLOW_FORMATS.join(', ')}`);
  }
  const exporter = exporterFromArgs(values);
  const meter = new FlowMeter({
    maxFlows: intOption('max-flows', values['max-flows'], 4096, 16_777_216) ?? 262_144,
    idleTimeoutS: intOption('idle-timeout', values['idle-timeout'], 1, 604_800),
    activeTimeoutS: intOption('active-timeout', values['active-timeout'], 1, 604_800),
  });
  try {
    let result: FileRunResult;
    let flows = 0;
    try {
      if (format === 'table') {
        const formatter = flowFormatter(format);
        process.stdout.on('error', quietOnEpipe);
        process.stdout.write(formatter.header);
        result = meter.meterFile(
          values.read,
          (batch) => {
            flows += batch.length;
            process.stdout.write(formatter.rows(batch));
          },
          { exporter },
        );
      } else {
        // ndjson and csv come out of C in large writes: no per-record JS.
        const text = meter.meterFileToFd(values.read, STDOUT_FD, format, { exporter });
        if (text.write_epipe) return; // the reader went away, as with `| head`: nothing to say
        if (text.write_error) throw new CaptureFileError(`cannot write flows: ${text.write_error}`);
        flows = text.flows;
        result = text;
      }
    } catch (error) {
      if (error instanceof InvalidCaptureFileError)
        throw new CaptureFileError(`${values.read}: ${error.message}`);
      throw error;
    }
    const s = meter.stats();
    const rate = result.seconds > 0 ? Math.round(result.packets / result.seconds) : 0;
    const x = exporter?.stats();
    const exported = x
      ? ` exported=${x.records_sent} datagrams=${x.datagrams_sent} export_errors=${x.send_errors} skipped_v6=${x.records_skipped}`
      : '';
    process.stderr.write(
      `wirefleet flows: packets=${s.packets} bytes=${s.bytes} flows=${flows} parse_errors=${s.parse_errors} non_ip=${s.non_ip} evictions=${s.evictions} seconds=${result.seconds.toFixed(3)} packets_per_sec=${rate}${exported}\n`,
    );
    if (result.error) {
      throw new CaptureFileError(
        `${values.read}: corrupt after ${result.packets} packets: ${result.error}`,
      );
    }
  } finally {
    meter.close();
    exporter?.close();
  }
}
