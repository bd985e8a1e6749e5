import {
  CaptureOpenError,
  CaptureRunError,
  type CaptureStats,
  LiveCapture,
} from '../../native/capture.js';
import type { FlowRecord } from '../../native/index.js';
import { flowFormatter } from './flow-format.js';
import { intOption, UsageError } from './options.js';

export interface CaptureCliOptions {
  interface?: string;
  backend?: string;
  filter?: string;
  seconds?: string;
  write?: string;
  snaplen?: string;
  'buffer-mb'?: string;
  promiscuous?: boolean;
}

function secondsOption(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 31_536_000) {
    throw new UsageError(`--seconds must be a positive number, got "${value}"`);
  }
  return n;
}

function counters(s: CaptureStats): string {
  return (
    `packets=${s.packets} bytes=${s.bytes} kernel_drops=${s.kernel_drops} ` +
    `pps=${Math.round(s.packet_rate_pps)} mbps=${s.throughput_mbps.toFixed(2)} ` +
    `buffer=${s.buffer_usage_pct.toFixed(1)}% flows=${s.flows_active}`
  );
}

/**
 * `wirefleet capture --interface IF`: live capture (AF_PACKET TPACKET_V3, or libpcap with
 * --backend libpcap) metered
 * into flows in the C engine. A counters line goes to stderr every second; flows
 * are printed as ndjson on stdout as they end and, at the end (--seconds elapsed
 * or Ctrl-C), every flow still active. --write FILE keeps the packets as one pcap.
 */
export async function runCapture(values: CaptureCliOptions): Promise<void> {
  if (!values.interface) throw new UsageError('--interface IF is required');
  const backend = values.backend ?? 'afpacket';
  if (backend !== 'afpacket' && backend !== 'libpcap') {
    throw new UsageError(`--backend must be afpacket or libpcap, got "${backend}"`);
  }
  const seconds = secondsOption(values.seconds);
  const snaplen = intOption('snaplen', values.snaplen, 64, 262_144);
  const bufferSizeMb = intOption('buffer-mb', values['buffer-mb'], 1, 4096);

  let capture: LiveCapture;
  try {
    capture = new LiveCapture({
      interface: values.interface,
      backend,
      filter: values.filter,
      snaplen,
      bufferSizeMb,
      promiscuous: values.promiscuous ?? false,
      meter: { maxFlows: 1_048_576 },
    });
  } catch (error) {
    if (error instanceof CaptureOpenError) throw new UsageError(error.message);
    throw error;
  }

  const formatter = flowFormatter('ndjson');
  let flows = 0;
  const print = (batch: FlowRecord[]) => {
    if (batch.length === 0) return;
    flows += batch.length;
    process.stdout.write(formatter.rows(batch));
  };
  const drainAll = () => {
    for (let batch = capture.drain(); batch.length > 0; batch = capture.drain()) print(batch);
  };

  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    capture.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stderr.write(
    `wirefleet capture: listening on ${values.interface} (${backend}${values.filter ? `, filter "${values.filter}"` : ''}${values.write ? `, writing ${values.write}` : ''})${seconds ? ` for ${seconds} s` : ''}, Ctrl-C to stop\n`,
  );

  let final: CaptureStats | undefined;
  let failure: Error | undefined;
  try {
    final = await capture.run(Math.round(seconds * 1000), {
      tickMs: 1000,
      writeFile: values.write,
      onTick: (stats) => {
        process.stderr.write(`wirefleet capture: ${counters(stats)}\n`);
        print(capture.drain());
      },
    });
  } catch (error) {
    if (!(error instanceof CaptureRunError)) throw error;
    failure = error;
    final = error.stats;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  try {
    drainAll();
    capture.flush();
    drainAll();
    const s = final ?? capture.stats();
    const pcap = s.pcap
      ? ` pcap_packets=${s.pcap.packets_written} pcap_dropped=${s.pcap.packets_dropped}`
      : '';
    process.stderr.write(
      `wirefleet capture: done packets=${s.packets} bytes=${s.bytes} kernel_packets=${s.kernel_packets} kernel_drops=${s.kernel_drops} drop_rate=${s.drop_rate.toFixed(6)} flows=${flows} parse_errors=${s.parse_errors} seconds=${s.seconds.toFixed(3)} pps=${Math.round(s.packet_rate_pps)}${pcap}\n`,
    );
  } finally {
    capture.close();
  }
  if (failure) throw failure;
}
