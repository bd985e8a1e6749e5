import { useState } from 'react';
import type { ApiClient } from '../../api/client.js';
import { useApi } from '../../app/api-context.js';
import { useRoute } from '../../app/router.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { LoadMore } from '../../components/LoadMore.js';
import { RefreshControls } from '../../components/RefreshControls.js';
import { EmptyState, ErrorMessage, Loading } from '../../components/Status.js';
import { formatCount, formatRelative, formatTime } from '../../format.js';
import { usePolling } from '../../hooks/usePolling.js';
import { AgentStatusBadge } from './AgentStatusBadge.js';
import { type AgentDetail, type AgentSummary, mapLimited } from './agent-logic.js';

const REFRESH_MS = 10_000;
/** Agents per page; each row also loads the agent's detail (RLOCs, EID prefixes). */
const PAGE_SIZE = 50;
const DETAIL_CONCURRENCY = 4;

interface AgentRow {
  summary: AgentSummary;
  /** The agent's detail; undefined when it could not be loaded (the row still shows the summary). */
  detail?: AgentDetail;
}

interface AgentPage {
  rows: AgentRow[];
  nextToken: string | null;
}

async function loadAgentPage(
  api: ApiClient,
  nextToken: string | undefined,
  signal?: AbortSignal,
): Promise<AgentPage> {
  const options = signal ? { signal } : {};
  const { data } = await api.get<{ agents: AgentSummary[]; next_token: string | null }>(
    '/agents',
    { limit: PAGE_SIZE, next_token: nextToken },
    options,
  );
  const rows = await mapLimited(data.agents, DETAIL_CONCURRENCY, async (summary) => {
    try {
      const detail = await api.get<AgentDetail>(
        `/agents/${encodeURIComponent(summary.agent_id)}`,
        undefined,
        options,
      );
      return { summary, detail: detail.data };
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      return { summary };
    }
  });
  return { rows, nextToken: data.next_token };
}

function LastSeen({ seconds }: { seconds: number | null }) {
  if (seconds === null) return <span className="muted">never</span>;
  const t = formatTime(seconds * 1000);
  return (
    <time dateTime={t.iso} title={`${t.text} local · ${t.title}`}>
      {formatRelative(seconds * 1000)}
    </time>
  );
}

function ListCell({ items, empty }: { items: readonly string[]; empty: string }) {
  if (items.length === 0) return <span className="muted">{empty}</span>;
  const shown = items.slice(0, 3);
  return (
    <span className="mono" title={items.join(', ')}>
      {shown.join(', ')}
      {items.length > shown.length ? (
        <span className="cell-hint"> +{items.length - shown.length} more</span>
      ) : null}
    </span>
  );
}

const COLUMNS: Column<AgentRow>[] = [
  {
    key: 'agent',
    header: 'Agent',
    render: (r) => (
      <a href={`#/agents/${encodeURIComponent(r.summary.agent_id)}`} className="agent-link">
        {r.summary.agent_id}
      </a>
    ),
  },
  {
    key: 'status',
    header: 'Status',
    render: (r) => <AgentStatusBadge status={r.summary.status} />,
  },
  {
    key: 'seen',
    header: 'Last seen',
    title: 'When its latest heartbeat arrived (server clock)',
    render: (r) => <LastSeen seconds={r.summary.last_seen} />,
  },
  { key: 'version', header: 'Version', render: (r) => r.summary.version ?? '–' },
  { key: 'backend', header: 'Backend', render: (r) => r.summary.backend ?? '–' },
  {
    key: 'capture',
    header: 'Capture',
    render: (r) =>
      r.summary.capture_running === null ? (
        '–'
      ) : r.summary.capture_running ? (
        <span className="badge badge-ok">running</span>
      ) : (
        <span className="badge">stopped</span>
      ),
  },
  {
    key: 'rlocs',
    header: 'RLOCs',
    title: 'Routing locators the agent announces in its heartbeat',
    render: (r) =>
      r.detail ? (
        <ListCell items={r.detail.rlocs.map((l) => l.address)} empty="none" />
      ) : (
        <span className="muted">not loaded</span>
      ),
  },
  {
    key: 'eids',
    header: 'EID prefixes',
    title: 'EID prefixes the agent announces behind its RLOCs',
    render: (r) =>
      r.detail ? (
        <ListCell items={r.detail.eid_prefixes} empty="none" />
      ) : (
        <span className="muted">not loaded</span>
      ),
  },
];

/** Every agent of the tenant with its status, software and what it announces. */
export function AgentListPage() {
  const api = useApi();
  const { navigate } = useRoute();
  const polling = usePolling((signal) => loadAgentPage(api, undefined, signal), {
    intervalMs: REFRESH_MS,
    deps: [api],
  });
  const [more, setMore] = useState<AgentPage>();
  const [moreLoading, setMoreLoading] = useState(false);
  const [moreError, setMoreError] = useState<Error>();

  const first = polling.data;
  const seen = new Set<string>();
  const rows = [...(first?.rows ?? []), ...(more?.rows ?? [])].filter((r) => {
    if (seen.has(r.summary.agent_id)) return false;
    seen.add(r.summary.agent_id);
    return true;
  });
  const nextToken = more ? more.nextToken : (first?.nextToken ?? null);
  const counts = { online: 0, offline: 0, never_seen: 0 };
  for (const r of rows) counts[r.summary.status]++;

  async function loadMore(token: string) {
    setMoreLoading(true);
    setMoreError(undefined);
    try {
      const page = await loadAgentPage(api, token);
      setMore((prev) => ({
        rows: [...(prev?.rows ?? []), ...page.rows],
        nextToken: page.nextToken,
      }));
    } catch (error) {
      setMoreError(error as Error);
    } finally {
      setMoreLoading(false);
    }
  }

  return (
    <section className="page agents-page" aria-labelledby="agents-title">
      <header className="page-header">
        <div>
          <h1 id="agents-title">Agents</h1>
          <p>Edge agents that meter flows and publish them, with their latest heartbeat.</p>
        </div>
        <RefreshControls polling={polling} intervalMs={REFRESH_MS} />
      </header>

      {polling.error ? <ErrorMessage error={polling.error} title="Could not load agents" /> : null}

      {!first ? (
        polling.error ? null : (
          <Loading label="Loading agents…" />
        )
      ) : rows.length === 0 ? (
        <EmptyState title="No agents yet">
          <p>
            Register one with <code>wirefleet agent register</code> on the host that should capture,
            then start it with <code>wirefleet agent run --config FILE</code>. It shows up here with
            its first heartbeat.
          </p>
        </EmptyState>
      ) : (
        <section className="panel" aria-labelledby="agent-table-title">
          <div className="panel-header">
            <h2 id="agent-table-title">
              {formatCount(rows.length)} agent{rows.length === 1 ? '' : 's'}
            </h2>
            <p className="agent-counts">
              <span>{formatCount(counts.online)} online</span>
              <span>{formatCount(counts.offline)} offline</span>
              <span>{formatCount(counts.never_seen)} never seen</span>
            </p>
          </div>
          <DataTable
            caption="Agents"
            columns={COLUMNS}
            rows={rows}
            rowKey={(r) => r.summary.agent_id}
            onRowClick={(r) => navigate(`/agents/${encodeURIComponent(r.summary.agent_id)}`)}
            rowLabel={(r) =>
              `Open agent ${r.summary.agent_id} (${r.summary.status.replace('_', ' ')})`
            }
          />
          {moreError ? <ErrorMessage error={moreError} title="Could not load more agents" /> : null}
          <LoadMore
            nextToken={nextToken}
            loading={moreLoading}
            onLoadMore={loadMore}
            label="Load more agents"
          />
        </section>
      )}
    </section>
  );
}
