import { useApi } from '../../app/api-context.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { EmptyState, ErrorMessage, Loading } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatCount, formatDuration, formatRate } from '../../format.js';
import { usePolling } from '../../hooks/usePolling.js';
import {
  type AgentPathsView,
  describePeer,
  describeRejects,
  formatFraction,
  formatMs,
  type PathView,
  staleMeaning,
} from './paths-logic.js';

/** Tango nodes report every few seconds; the page follows at the same pace. */
const REFRESH_MS = 5_000;

function StaleBadge({ stale, intervalS }: { stale: boolean; intervalS: number }) {
  return stale ? (
    <span className="badge badge-warn" title={staleMeaning(intervalS)}>
      stale
    </span>
  ) : (
    <span className="badge badge-ok" title="Reported within 3 intervals: routing uses it">
      fresh
    </span>
  );
}

function columns(intervalS: number): Column<PathView>[] {
  return [
    { key: 'path', header: 'Path', align: 'right', render: (p) => String(p.path_id) },
    {
      key: 'rloc',
      header: 'Peer RLOC',
      className: 'mono',
      title: "The peer site's routing locator this path reaches",
      render: (p) => p.peer_rloc,
    },
    {
      key: 'tunnel',
      header: 'Tunnel',
      className: 'mono',
      title: 'Local → peer IPv6 tunnel address',
      render: (p) => (
        <span className="path-tunnel">
          {p.local_address} → {p.peer_address}
        </span>
      ),
    },
    {
      key: 'delay',
      header: 'Delay',
      align: 'right',
      title: 'Mean one-way delay over the interval',
      render: (p) => formatMs(p.delay_ms),
    },
    {
      key: 'jitter',
      header: 'Jitter',
      align: 'right',
      title: 'RFC 3550 interarrival jitter',
      render: (p) => formatMs(p.jitter_ms),
    },
    {
      key: 'loss',
      header: 'Loss',
      align: 'right',
      title: 'Lost / expected sequence numbers over the interval',
      render: (p) => formatFraction(p.loss),
    },
    {
      key: 'reorder',
      header: 'Reorder',
      align: 'right',
      title: 'Packets that arrived after a later one',
      render: (p) => formatFraction(p.reorder),
    },
    {
      key: 'throughput',
      header: 'Throughput',
      align: 'right',
      render: (p) => formatRate(p.throughput_bps, 'bit'),
    },
    {
      key: 'packets',
      header: 'Packets',
      align: 'right',
      render: (p) => {
        const rejects = describeRejects(p.rejects);
        return rejects.total > 0 ? (
          <span title={`Refused: ${rejects.text}`}>
            {formatCount(p.packets)}{' '}
            <span className="muted">({formatCount(rejects.total)} refused)</span>
          </span>
        ) : (
          formatCount(p.packets)
        );
      },
    },
    {
      key: 'age',
      header: 'Age',
      align: 'right',
      title: 'Since the report arrived; stale past 3 intervals',
      render: (p) => (
        <span className="path-age">
          {formatDuration(p.age_s)} <StaleBadge stale={p.stale} intervalS={intervalS} />
        </span>
      ),
    },
  ];
}

/** The agent's Tango paths: per path delay, jitter, loss, reordering, throughput and age. */
export function PathsPanel({ agentId }: { agentId: string }) {
  const api = useApi();
  const base = `/agents/${encodeURIComponent(agentId)}/paths`;
  const polling = usePolling(
    (signal) => api.get<AgentPathsView>(base, undefined, { signal }).then((r) => r.data),
    { intervalMs: REFRESH_MS, deps: [api, base] },
  );
  const report = polling.data;
  const peer = report ? describePeer(report.peer) : undefined;

  return (
    <section className="panel paths-panel" aria-labelledby="agent-paths-title">
      <div className="panel-header">
        <h2 id="agent-paths-title">Tango paths</h2>
        {report?.received_at != null && report.interval_s != null ? (
          <span className="muted">
            {peer ? `to ${peer}, ` : ''}measured over {formatDuration(report.interval_s)}, received{' '}
            <Time value={report.received_at * 1000} />
          </span>
        ) : null}
      </div>
      {polling.error ? <ErrorMessage error={polling.error} title="Could not load paths" /> : null}
      {!report ? (
        polling.error ? null : (
          <Loading label="Loading paths…" />
        )
      ) : report.paths.length === 0 ? (
        <EmptyState title="No Tango paths">
          <p>
            Paths come from agents running Tango nodes: each reports per-path delay, jitter, loss,
            reordering and throughput toward its peer site every few seconds. This agent has not
            reported any.
          </p>
        </EmptyState>
      ) : (
        <DataTable
          caption={`Tango paths of ${agentId}`}
          columns={columns(report.interval_s ?? 0)}
          rows={report.paths}
          rowKey={(p) => String(p.path_id)}
        />
      )}
    </section>
  );
}
