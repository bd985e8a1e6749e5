import { useCallback, useEffect, useMemo, useState } from 'react';
import { isAbortError } from '../../api/client.js';
import type { MappingsResponse } from '../../api/mappings.js';
import type { PacketRecord, PacketStats, RecentPage } from '../../api/types.js';
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
import { BulkDownload } from './BulkDownload.js';
import { PACKET_COLUMNS } from './columns.js';
import {
  describeFilters,
  filtersFromQuery,
  filtersToApi,
  filtersToQuery,
  hasFilters,
  type PacketFilters,
} from './filters.js';
import { rememberListAddress } from './list-address.js';
import { PacketFilterForm } from './PacketFilterForm.js';

export const REFRESH_MS = 5000;
export const PAGE_SIZE = 50;

interface Overview {
  stats: PacketStats;
  first: RecentPage;
}

/** Older pages the user asked for, below the live first page. */
interface History {
  packets: PacketRecord[];
  nextToken: string | null;
  /** The id the first page ended at when paging began: where the older pages continue from. */
  boundary: string;
}

export function PacketList() {
  const api = useApi();
  const route = useRoute();
  const queryString = route.query.toString();
  const filters = useMemo(() => filtersFromQuery(new URLSearchParams(queryString)), [queryString]);

  useEffect(() => rememberListAddress(route.path, queryString), [route.path, queryString]);

  const polling = usePolling(
    async (signal): Promise<Overview> => {
      const [stats, first] = await Promise.all([
        api.get<{ stats: PacketStats }>('/packets/stats', undefined, { signal }),
        api.get<RecentPage>(
          '/packets/recent',
          { limit: PAGE_SIZE, ...filtersToApi(filters, Date.now()) },
          { signal },
        ),
      ]);
      return { stats: stats.data.stats, first: first.data };
    },
    { intervalMs: REFRESH_MS, deps: [api, queryString] },
  );

  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    api
      .get<MappingsResponse>('/mappings', undefined, { signal: controller.signal })
      .then((res) => setModels(res.data.models.map((m) => m.name)))
      .catch((error: unknown) => {
        // The model list only helps the filter; the stats still name every model seen.
        if (!isAbortError(error)) setModels([]);
      });
    return () => controller.abort();
  }, [api]);

  const [history, setHistory] = useState<History>();
  const [historyError, setHistoryError] = useState<Error>();
  const [loadingMore, setLoadingMore] = useState(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: new filters start the history over
  useEffect(() => {
    setHistory(undefined);
    setHistoryError(undefined);
  }, [queryString]);

  const setFilters = useCallback(
    (next: PacketFilters) =>
      route.navigate(withQuery('/packets', filtersToQuery(next)), { replace: true }),
    [route.navigate],
  );

  const first = polling.data?.first;
  const loadMore = async (token: string) => {
    setLoadingMore(true);
    setHistoryError(undefined);
    try {
      const res = await api.get<RecentPage>('/packets/recent', {
        limit: PAGE_SIZE,
        ...filtersToApi(filters, Date.now()),
        next_token: token,
      });
      setHistory((h) => ({
        packets: [...(h?.packets ?? []), ...res.data.packets],
        nextToken: res.data.next_token,
        boundary: h?.boundary ?? first?.packets.at(-1)?.packet_id ?? '',
      }));
    } catch (error) {
      setHistoryError(error as Error);
    } finally {
      setLoadingMore(false);
    }
  };

  const rows = useMemo(() => {
    const live = first?.packets ?? [];
    if (!history) return live;
    const seen = new Set(live.map((p) => p.packet_id));
    return [...live, ...history.packets.filter((p) => !seen.has(p.packet_id))];
  }, [first, history]);

  // The live page moved past where the older pages begin: packets in between are not shown.
  const gap =
    history !== undefined &&
    first !== undefined &&
    first.next_token !== null &&
    (first.packets.at(-1)?.packet_id ?? '') > history.boundary;

  const modelChoices = useMemo(
    () =>
      [...new Set([...models, ...Object.keys(polling.data?.stats.packets_by_model ?? {})])].sort(),
    [models, polling.data],
  );

  return (
    <section className="page" aria-labelledby="packets-title">
      <div className="page-header">
        <div>
          <h1 id="packets-title">Packets</h1>
          <p>Every routing decision as the LISP-encapsulated frame an ITR would send.</p>
        </div>
        <RefreshControls polling={polling} intervalMs={REFRESH_MS} />
      </div>

      {polling.error ? <ErrorMessage error={polling.error} title="Could not load packets" /> : null}

      <StatsPanel stats={polling.data?.stats} loading={polling.loading && !polling.data} />

      <section className="panel" aria-labelledby="recent-title">
        <div className="panel-header">
          <h2 id="recent-title">Recent packets</h2>
          <span className="muted">
            Newest first · {describeFilters(filters)}
            {rows.length ? ` · ${formatCount(rows.length)} shown` : ''}
          </span>
        </div>
        <PacketFilterForm filters={filters} models={modelChoices} onChange={setFilters} />
        {gap ? (
          <div className="status status-info" role="status">
            More than {PAGE_SIZE} packets arrived since you loaded older pages, so some between them
            are not shown.{' '}
            <button type="button" className="button" onClick={() => setHistory(undefined)}>
              Start again from the newest
            </button>
          </div>
        ) : null}
        {!first ? (
          polling.error ? null : (
            <Loading label="Loading packets…" />
          )
        ) : rows.length === 0 ? (
          hasFilters(filters) ? (
            <EmptyState title="No packets match these filters">
              Widen the time range or clear the model and workload filters.
              {first.next_token ? ' Older packets may still match: load the next page.' : ''}
            </EmptyState>
          ) : (
            <EmptyState title="No packets yet">
              Every routing decision is stored as a packet. Send a query from the{' '}
              <a href="#/route">Route</a> page, or <code>POST /api/v1/route</code>.
            </EmptyState>
          )
        ) : (
          <DataTable
            caption="Recent LISP packets"
            columns={PACKET_COLUMNS}
            rows={rows}
            rowKey={(p) => p.packet_id}
            rowLabel={(p) => `Open packet ${p.packet_id}`}
            onRowClick={(p) => route.navigate(`/packets/${p.packet_id}`)}
          />
        )}
        {historyError ? (
          <ErrorMessage error={historyError} title="Could not load older packets" />
        ) : null}
        {first ? (
          <LoadMore
            nextToken={history ? history.nextToken : first.next_token}
            loading={loadingMore}
            onLoadMore={loadMore}
            label={`Load ${PAGE_SIZE} older packets`}
            endLabel={
              rows.length
                ? `End of history: all ${formatCount(rows.length)} matching packets shown.`
                : undefined
            }
          />
        ) : null}
      </section>

      <BulkDownload filters={filters} />
    </section>
  );
}

function StatsPanel({ stats, loading }: { stats: PacketStats | undefined; loading: boolean }) {
  if (loading) return <Loading label="Loading statistics…" />;
  if (!stats) return null;
  const byModel = Object.entries(stats.packets_by_model).map(([label, value]) => ({
    label,
    value,
  }));
  const byWorkload = Object.entries(stats.packets_by_workload).map(([label, value]) => ({
    label,
    value,
  }));
  return (
    <>
      <dl className="stat-cards" aria-label="Packet statistics">
        <div className="stat-card">
          <dt>Total packets</dt>
          <dd>{formatCount(stats.total_packets)}</dd>
        </div>
        <div className="stat-card">
          <dt>Total bytes</dt>
          <dd>
            {formatBytes(stats.total_bytes)}
            <span className="stat-sub">{formatCount(stats.total_bytes)} B</span>
          </dd>
        </div>
        <div className="stat-card">
          <dt>Average size</dt>
          <dd>{stats.total_packets ? formatBytes(Math.round(stats.avg_packet_size)) : '–'}</dd>
        </div>
        <div className="stat-card">
          <dt>Last hour</dt>
          <dd>{formatCount(stats.recent_packets)}</dd>
        </div>
      </dl>
      <div className="grid-2">
        <section className="panel" aria-labelledby="by-model-title">
          <h2 id="by-model-title">Packets by model</h2>
          {byModel.length ? (
            <BarChart title="Packets by model" bars={byModel} formatValue={formatCount} />
          ) : (
            <EmptyState title="No packets yet" />
          )}
        </section>
        <section className="panel" aria-labelledby="by-workload-title">
          <h2 id="by-workload-title">Packets by workload</h2>
          {byWorkload.length ? (
            <BarChart title="Packets by workload" bars={byWorkload} formatValue={formatCount} />
          ) : (
            <EmptyState title="No packets yet" />
          )}
        </section>
      </div>
    </>
  );
}
