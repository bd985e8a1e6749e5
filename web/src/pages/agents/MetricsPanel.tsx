import { LineChart } from '../../components/LineChart.js';
import { EmptyState, ErrorMessage } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount, formatRate } from '../../format.js';
import { type AgentDetail, type MetricsSample, type Part, rateSeries } from './agent-logic.js';

const formatPps = (v: number) => formatRate(v, 'pkt');

/** The latest counters as cards, and packets/s and drops/s over the recent samples. */
export function MetricsPanel({
  agent,
  samples,
}: {
  agent: AgentDetail;
  samples: Part<MetricsSample[]>;
}) {
  const latest = agent.metrics;
  const points = rateSeries(samples.value ?? []);
  return (
    <section className="panel" aria-labelledby="agent-metrics-title">
      <div className="panel-header">
        <h2 id="agent-metrics-title">Metrics</h2>
        {agent.metrics_at !== null ? (
          <span className="muted">
            latest sample <Time value={agent.metrics_at * 1000} />
          </span>
        ) : null}
      </div>
      {latest === null ? (
        <EmptyState title="No metrics yet">
          <p>The agent sends a metrics sample every few seconds once it runs.</p>
        </EmptyState>
      ) : (
        <dl className="stat-cards agent-stats">
          <div className="stat-card">
            <dt>Captured</dt>
            <dd>
              {formatCount(latest.capture.packets_captured)}
              <span className="stat-sub">
                packets, {formatBytes(latest.capture.bytes_captured)} this session
              </span>
            </dd>
          </div>
          <div className="stat-card">
            <dt>Dropped</dt>
            <dd>
              {formatCount(latest.capture.packets_dropped)}
              <span className="stat-sub">
                {formatCount(Math.round(latest.capture.drop_rate * 100) / 100)} % of packets
              </span>
            </dd>
          </div>
          <div className="stat-card">
            <dt>Flows</dt>
            <dd>
              {formatCount(latest.flows.active)}
              <span className="stat-sub">
                active, {formatCount(latest.flows.emitted)} exported,{' '}
                {formatCount(latest.flows.evictions)} evicted
              </span>
            </dd>
          </div>
          <div className="stat-card">
            <dt>Spool</dt>
            <dd>
              {formatCount(latest.spool.depth_batches)}
              <span className="stat-sub">
                batches waiting ({formatBytes(latest.spool.depth_bytes)}),{' '}
                {formatCount(latest.spool.dropped_batches)} dropped
              </span>
            </dd>
          </div>
          <div className="stat-card">
            <dt>Uplink</dt>
            <dd>
              {latest.uplink.connected ? 'connected' : 'disconnected'}
              <span className="stat-sub">
                {formatCount(latest.uplink.acked)} of {formatCount(latest.uplink.published)} batches
                acked, {formatCount(latest.uplink.reconnects)} reconnects
              </span>
            </dd>
          </div>
        </dl>
      )}

      {samples.error ? (
        <ErrorMessage error={samples.error} title="Could not load the metrics history" />
      ) : latest === null ? null : points.length === 0 ? (
        <p className="muted">
          The rate charts need two metrics samples; they appear a few seconds after the agent
          starts.
        </p>
      ) : (
        <>
          <div className="grid-2 agent-charts">
            <div>
              <h3>Packets per second</h3>
              <LineChart
                title="Packets captured per second"
                points={points.map((p) => ({ t: p.t, values: { 'packets/s': p.packetsPerSec } }))}
                formatValue={formatPps}
                height={180}
              />
            </div>
            <div>
              <h3>Drops per second</h3>
              <LineChart
                title="Packets dropped per second"
                points={points.map((p) => ({ t: p.t, values: { 'drops/s': p.dropsPerSec } }))}
                formatValue={formatPps}
                height={180}
              />
            </div>
          </div>
          <p className="panel-note">
            Rates from the counters of consecutive samples over the last{' '}
            {formatCount(points.length + 1)} samples
            {latest && !latest.capture.running ? '; the capture is stopped now' : ''}.
          </p>
        </>
      )}
    </section>
  );
}
