import type { FlowExporter } from '../../native/exporter.js';
import type { FlowRecord } from '../../native/index.js';
import type { AgentLogger } from '../log.js';

export type OnFlows = (flows: FlowRecord[]) => Promise<void> | void;

/**
 * Hands ended flows to the agent (onFlows) and, when NetFlow/IPFIX export is on, to the
 * exporter. onFlows is called in order and at once (synchronously), so a consumer that writes
 * to its spool synchronously bounds the memory; a returned promise is awaited by `idle()`.
 * A failing onFlows is logged and counted: the capture keeps running.
 */
export class FlowSink {
  private readonly pending = new Set<Promise<void>>();
  delivered = 0;
  failures = 0;
  exporter: FlowExporter | undefined;

  constructor(
    private readonly onFlows: OnFlows,
    private readonly logger: AgentLogger,
  ) {}

  /** `exported`: the engine already sent these to the exporter (the file fast path). */
  push(batch: FlowRecord[], exported = false): void {
    if (batch.length === 0) return;
    if (!exported && this.exporter) this.exporter.send(batch);
    let result: Promise<void> | void;
    try {
      result = this.onFlows(batch);
    } catch (error) {
      this.failed(error, batch.length);
      return;
    }
    if (!result || typeof (result as Promise<void>).then !== 'function') {
      this.delivered += batch.length;
      return;
    }
    const settled: Promise<void> = (result as Promise<void>).then(
      () => {
        this.delivered += batch.length;
        this.pending.delete(settled);
      },
      (error: unknown) => {
        this.failed(error, batch.length);
        this.pending.delete(settled);
      },
    );
    this.pending.add(settled);
  }

  /** Resolves when every onFlows call made so far has settled. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private failed(error: unknown, records: number): void {
    this.failures++;
    this.logger.error('flow delivery failed', {
      error: error instanceof Error ? error.message : String(error),
      records,
    });
  }
}
