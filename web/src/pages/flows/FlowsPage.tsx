import './flows.css';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ApiClient } from '../../api/client.js';
import { useApi } from '../../app/api-context.js';
import { withQuery } from '../../app/route-path.js';
import { useRoute } from '../../app/router.js';
import { BarChart } from '../../components/BarChart.js';
import { DataTable } from '../../components/DataTable.js';
import { LoadMore } from '../../components/LoadMore.js';
import { RefreshControls } from '../../components/RefreshControls.js';
import { EmptyState, ErrorMessage, Loading } from '../../components/Status.js';
import { formatBytes, formatCount } from '../../format.js';
import { usePolling } from '../../hooks/usePolling.js';
import { FlowDetail } from './FlowDetail.js';
import { FlowFiltersForm } from './FlowFiltersForm.js';
import { flowColumns } from './flow-columns.js';
import {
  customRangeProblem,
  DEFAULT_FILTERS,
  type Flow,
  type FlowFilters,
  type FlowsApiQuery,
  flowFiltersToQuery,
  flowsApiQuery,
  flowTotals,
  formatEndpoint,
  isRanking,
  mergeFlowPages,
  parseFlowFilters,
  SORT_LABELS,
  TALKER_GROUPINGS,
  type TalkerGrouping,
  talkerMetric,
  topTalkers,
} from './flow-logic.js';

const REFRESH_MS = 10_000;
/** Bars in the top-talkers chart; the rest are summed in a note, not drawn as one huge bar. */
const TALKERS_SHOWN = 10;
/** What GET /flows answers in X-Wirefleet-Truncated when the window held more than it ranks. */
const RANKED_RECORDS = 20_000;

interface FlowPage {
  flows: Flow[];
  /** X-Wirefleet-Next-Token (sort=time); null on the last page and for rankings. */
  nextToken: string | null;
  truncated: boolean;
  /** The query this page answered: the next page must repeat it (next_token is bound to it). */
  query: FlowsApiQuery;
}

async function loadFlowPage(
  api: ApiClient,
  query: FlowsApiQuery,
  nextToken: string | undefined,
  signal?: AbortSignal,
): Promise<FlowPage> {
  const response = await api.get<Flow[]>(
    '/flows',
    { ...query, next_token: nextToken },
    signal ? { signal } : {},
  );
  return {
    flows: response.data,
    nextToken: response.headers.get('X-Wirefleet-Next-Token'),
    truncated: response.headers.get('X-Wirefleet-Truncated') === 'true',
    query,
  };
}

interface MorePages {
  flows: Flow[];
  nextToken: string | null;
  query: FlowsApiQuery;
}

/** The agents' flows: a ranking (top N by bytes, packets, duration) or every record, paged. */
export function FlowsPage() {
  const api = useApi();
  const route = useRoute();
  const queryString = route.query.toString();
  const filters = useMemo(() => parseFlowFilters(new URLSearchParams(queryString)), [queryString]);
  const setFilters = useCallback(
    (next: FlowFilters) =>
      route.navigate(withQuery('/flows', flowFiltersToQuery(next)), { replace: true }),
    [route],
  );
  const problem = customRangeProblem(filters);
  const { group, ...queryFilters } = filters;
  const filterKey = JSON.stringify(queryFilters);

  const polling = usePolling<FlowPage | undefined>(
    async (signal) => {
      if (problem) return undefined;
      return loadFlowPage(api, flowsApiQuery(filters, Date.now()), undefined, signal);
    },
    { intervalMs: REFRESH_MS, deps: [filterKey, api] },
  );

  const agentIds = useAgentIds(api);

  // Pages after the first (sort=time): kept across refreshes, dropped with the filters.
  const [more, setMore] = useState<MorePages>();
  const [moreLoading, setMoreLoading] = useState(false);
  const [moreError, setMoreError] = useState<Error>();
  const [selected, setSelected] = useState<string>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: new filters start a new page chain
  useEffect(() => {
    setMore(undefined);
    setMoreError(undefined);
    setSelected(undefined);
  }, [filterKey]);

  const first = polling.data;
  const flows = useMemo(
    () => (first ? mergeFlowPages(first.flows, more?.flows ?? []) : []),
    [first, more],
  );
  const nextToken = more ? more.nextToken : (first?.nextToken ?? null);

  async function loadMore(token: string) {
    const query = more?.query ?? first?.query;
    if (!query) return;
    setMoreLoading(true);
    setMoreError(undefined);
    try {
      const page = await loadFlowPage(api, query, token);
      setMore((prev) => ({
        flows: [...(prev?.flows ?? []), ...page.flows],
        nextToken: page.nextToken,
        query,
      }));
    } catch (error) {
      setMoreError(error as Error);
    } finally {
      setMoreLoading(false);
    }
  }

  const metric = talkerMetric(filters.sort);
  const formatMetric = metric === 'bytes' ? formatBytes : formatCount;
  const talkers = useMemo(() => topTalkers(flows, group, metric), [flows, group, metric]);
  const totals = flowTotals(flows);
  const selectedFlow = flows.find((f) => f.record_id === selected);
  const ranking = isRanking(filters.sort);
  const filtered =
    JSON.stringify({ ...filters, group: DEFAULT_FILTERS.group }) !==
    JSON.stringify(DEFAULT_FILTERS);

  return (
    <section className="page flows-page" aria-labelledby="flows-title">
      <header className="page-header">
        <div>
          <h1 id="flows-title">Flows</h1>
          <p>Bidirectional flows metered by your agents and published to the cloud.</p>
        </div>
        <RefreshControls polling={polling} intervalMs={REFRESH_MS} />
      </header>

      <div className="panel">
        <FlowFiltersForm filters={filters} agentIds={agentIds} onChange={setFilters} />
      </div>

      {polling.error ? <ErrorMessage error={polling.error} title="Could not load flows" /> : null}

      {problem ? (
        <EmptyState title="Fix the time range">
          {problem}: pick a "from" before the "to".
        </EmptyState>
      ) : !first ? (
        polling.error ? null : (
          <Loading label="Loading flows…" />
        )
      ) : flows.length === 0 ? (
        <FlowsEmpty filtered={filtered} onClear={() => setFilters({ ...DEFAULT_FILTERS, group })} />
      ) : (
        <>
          <div className="flows-overview">
            <section className="panel" aria-labelledby="talkers-title">
              <div className="panel-header">
                <h2 id="talkers-title">Top talkers</h2>
                <label className="inline-select">
                  <span>Group by</span>
                  <select
                    value={group}
                    onChange={(e) =>
                      setFilters({ ...filters, group: e.target.value as TalkerGrouping })
                    }
                  >
                    {TALKER_GROUPINGS.map((g) => (
                      <option key={g.value} value={g.value}>
                        {g.label}
                      </option>
                    ))}
                  </select>
                </label>
              </div>
              <BarChart
                title={`Top talkers by ${metric}, ${TALKER_GROUPINGS.find((g) => g.value === group)?.label.toLowerCase()}`}
                bars={talkers.slice(0, TALKERS_SHOWN)}
                formatValue={formatMetric}
                limit={TALKERS_SHOWN}
              />
              <p className="panel-note">
                {talkers.length > TALKERS_SHOWN
                  ? `${formatCount(talkers.length - TALKERS_SHOWN)} more with ${formatMetric(
                      talkers.slice(TALKERS_SHOWN).reduce((sum, t) => sum + t.value, 0),
                    )} not drawn. `
                  : ''}
                {metric === 'bytes' ? 'Bytes' : 'Packets'} summed over the{' '}
                {formatCount(flows.length)} flow records shown
                {ranking ? ` (the ${SORT_LABELS[filters.sort].toLowerCase()})` : ''}, not over all
                traffic.
              </p>
            </section>
            <section className="panel" aria-labelledby="flows-summary-title">
              <h2 id="flows-summary-title">In this view</h2>
              <dl className="stat-cards flows-stats">
                <div className="stat-card">
                  <dt>Flow records</dt>
                  <dd>{formatCount(totals.flows)}</dd>
                </div>
                <div className="stat-card">
                  <dt>Bytes</dt>
                  <dd>{formatBytes(totals.bytes)}</dd>
                </div>
                <div className="stat-card">
                  <dt>Packets</dt>
                  <dd>{formatCount(totals.packets)}</dd>
                </div>
                <div className="stat-card">
                  <dt>Agents</dt>
                  <dd>{formatCount(totals.agents)}</dd>
                </div>
              </dl>
              <ViewExplanation filters={filters} shown={flows.length} />
              {first.truncated ? (
                <div className="status status-warn" role="note">
                  <strong>Ranked from the newest {formatCount(RANKED_RECORDS)} records only</strong>
                  <p>
                    The time window holds more records than the API ranks at once. Narrow the time
                    range or pick an agent for an exact ranking.
                  </p>
                </div>
              ) : null}
            </section>
          </div>

          <section className="panel" aria-labelledby="flow-table-title">
            <div className="panel-header">
              <h2 id="flow-table-title">
                {ranking
                  ? `${SORT_LABELS[filters.sort]} (top ${formatCount(filters.limit)})`
                  : 'All flow records, newest first'}
              </h2>
              <span className="muted">
                {formatCount(flows.length)} record{flows.length === 1 ? '' : 's'}
              </span>
            </div>
            <DataTable
              caption={ranking ? SORT_LABELS[filters.sort] : 'Flow records, newest first'}
              columns={flowColumns(filters.sort)}
              rows={flows}
              rowKey={(f) => f.record_id}
              onRowClick={(f) => setSelected(f.record_id === selected ? undefined : f.record_id)}
              rowLabel={(f) =>
                `Flow ${formatEndpoint(f.src_ip, f.src_port, f.protocol)} to ${formatEndpoint(f.dst_ip, f.dst_port, f.protocol)}: show details`
              }
              {...(selected ? { selectedKey: selected } : {})}
            />
            {ranking ? (
              <p className="load-more-end">
                A ranking is a top {formatCount(filters.limit)}, not paged. Choose "Newest records
                first" to page through every record.
              </p>
            ) : (
              <>
                {moreError ? (
                  <ErrorMessage error={moreError} title="Could not load the next page" />
                ) : null}
                <LoadMore
                  nextToken={nextToken}
                  loading={moreLoading}
                  onLoadMore={loadMore}
                  label="Load older records"
                  endLabel={`All ${formatCount(flows.length)} records in this window shown`}
                />
              </>
            )}
          </section>

          {selectedFlow ? (
            <FlowDetail
              flow={selectedFlow}
              onClose={() => setSelected(undefined)}
              onFilterAgent={(agent) => setFilters({ ...filters, agent })}
            />
          ) : null}
        </>
      )}
    </section>
  );
}

function ViewExplanation({ filters, shown }: { filters: FlowFilters; shown: number }) {
  if (isRanking(filters.sort)) {
    return (
      <p className="panel-note">
        A ranking: the newest export of each flow in the window, sorted by{' '}
        {filters.sort === 'duration' ? 'duration' : filters.sort}, highest first, cut at{' '}
        {formatCount(filters.limit)}
        {shown < filters.limit ? ` (${formatCount(shown)} matched)` : ''}. It is not paged.
      </p>
    );
  }
  return (
    <p className="panel-note">
      Every stored record, newest last-seen first. A long flow is exported in parts (active
      timeout), so it can appear more than once. Older records load page by page.
    </p>
  );
}

function FlowsEmpty({ filtered, onClear }: { filtered: boolean; onClear(): void }) {
  if (filtered) {
    return (
      <EmptyState title="No flows match these filters">
        <p>Widen the time range, lower the minimum packets, or pick all agents.</p>
        <button type="button" className="button" onClick={onClear}>
          Clear filters
        </button>
      </EmptyState>
    );
  }
  return (
    <EmptyState title="No flows yet">
      <p>
        Agents publish flows as they meter traffic; the first ones show up a few seconds after an
        agent starts. <code>npm start</code> runs <code>local-agent</code>; add your own with{' '}
        <code>wirefleet agent register</code>, then see them on the <a href="#/agents">Agents</a>{' '}
        page.
      </p>
    </EmptyState>
  );
}

/** The tenant's agent ids for the agent menu; the menu still works (all agents) if this fails. */
function useAgentIds(api: ApiClient): string[] {
  const [ids, setIds] = useState<string[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    api
      .get<{ agents: { agent_id: string }[] }>(
        '/agents',
        { limit: 1000 },
        { signal: controller.signal },
      )
      .then(
        (r) => setIds(r.data.agents.map((a) => a.agent_id)),
        () => undefined,
      );
    return () => controller.abort();
  }, [api]);
  return ids;
}
