import { FlowExporter, parseCollector } from '../../native/exporter.js';
import type { FlowSink } from './delivery.js';
import type { NetflowParams } from './types.js';

/**
 * NetFlow v5 / IPFIX export of every ended flow, through the engine's exporter: it hangs on
 * the flow sink, so live drains (exporter.send) and file runs (the C fast path) both use it.
 */
export class NetflowExport {
  private active: (NetflowParams & { timer: NodeJS.Timeout }) | undefined;

  constructor(private readonly sink: FlowSink) {}

  get enabled(): boolean {
    return this.active !== undefined;
  }

  get params(): NetflowParams | undefined {
    if (!this.active) return undefined;
    const { timer: _timer, ...params } = this.active;
    return params;
  }

  /** Replaces any previous exporter; throws InvalidCollectorError for a name or a bad address. */
  enable(params: NetflowParams): void {
    const host = params.collector_ip.includes(':')
      ? `[${params.collector_ip}]`
      : params.collector_ip;
    const target = parseCollector(`${host}:${params.collector_port}`).target;
    const exporter = new FlowExporter({ version: params.netflow_version, targets: [target] });
    this.disable();
    this.sink.exporter = exporter;
    // Records leave as flows end; a partly filled datagram waits at most this long.
    const timer = setInterval(() => exporter.flush(), params.export_interval_sec * 1000);
    timer.unref();
    this.active = { ...params, timer };
  }

  /** Sends the partly filled datagram now (end of a session). */
  flush(): void {
    this.sink.exporter?.flush();
  }

  disable(): void {
    if (!this.active) return;
    clearInterval(this.active.timer);
    this.sink.exporter?.close();
    this.sink.exporter = undefined;
    this.active = undefined;
  }
}
