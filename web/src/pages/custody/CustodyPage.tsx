import { useApi } from '../../app/api-context.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { LoadMore } from '../../components/LoadMore.js';
import { EmptyState, ErrorMessage, Loading } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatCount } from '../../format.js';
import { useMorePages } from '../../hooks/useMorePages.js';
import { usePolling } from '../../hooks/usePolling.js';
import {
  ACTION_LABELS,
  CUSTODY_PAGE,
  type CustodyEntry,
  type CustodyPage as CustodyPageData,
  describeEvidence,
  mergeEntries,
} from './custody-logic.js';

const REFRESH_MS = 30_000;

const COLUMNS: Column<CustodyEntry>[] = [
  { key: 'at', header: 'Time', render: (e) => <Time value={Date.parse(e.at)} /> },
  { key: 'action', header: 'Handed out', render: (e) => ACTION_LABELS[e.action] },
  {
    key: 'evidence',
    header: 'Evidence',
    className: 'mono',
    render: (e) => (
      <span title={e.sha256 ?? e.window_id ?? e.job_id ?? ''}>{describeEvidence(e)}</span>
    ),
  },
  { key: 'agents', header: 'Agents', render: (e) => e.agent_ids.join(', ') },
  { key: 'token', header: 'Token id', className: 'mono', render: (e) => e.token_id },
  {
    key: 'from',
    header: 'From',
    className: 'mono',
    render: (e) => <span title={e.user_agent ?? ''}>{e.source_ip ?? '—'}</span>,
  },
  {
    key: 'expires',
    header: 'Link expires',
    render: (e) => (e.link_expires_at ? <Time value={Date.parse(e.link_expires_at)} /> : '—'),
  },
];

/** Who was handed which evidence: the tenant's custody log, newest first. */
export function CustodyPage() {
  const api = useApi();
  const newest = usePolling(
    async (signal) =>
      (await api.get<CustodyPageData>('/evidence/custody', { limit: CUSTODY_PAGE }, { signal }))
        .data,
    { intervalMs: REFRESH_MS, deps: [api] },
  );
  const older = useMorePages(newest.data?.next_token, async (token) => {
    const { data } = await api.get<CustodyPageData>('/evidence/custody', {
      limit: CUSTODY_PAGE,
      next_token: token,
    });
    return { items: data.entries, next_token: data.next_token };
  });
  const entries = mergeEntries(newest.data?.entries ?? [], older.items);

  return (
    <section className="page">
      <h1>Custody</h1>
      <p className="panel-note">
        Every link to evidence the API handed out, and every window job it started: who asked (the
        token id is the first 16 hex digits of SHA-256 over the token), from where, and what they
        were given. Recorded before the link is handed out; kept a year.
      </p>
      <section className="panel" aria-labelledby="custody-title">
        <div className="panel-header">
          <h2 id="custody-title">Custody log</h2>
          {entries.length > 0 ? (
            <span className="muted">{formatCount(entries.length)} shown, newest first</span>
          ) : null}
        </div>
        {newest.error ? (
          <ErrorMessage error={newest.error} title="Could not load the custody log" />
        ) : !newest.data ? (
          <Loading />
        ) : entries.length === 0 ? (
          <EmptyState title="No evidence handed out yet">
            <p>Segment and window downloads appear here, with who asked for them.</p>
          </EmptyState>
        ) : (
          <>
            <DataTable
              caption="Evidence custody log, newest first"
              columns={COLUMNS}
              rows={entries}
              rowKey={(e) => e.entry_id}
            />
            {older.error ? (
              <ErrorMessage error={older.error} title="Could not load older entries" />
            ) : null}
            <LoadMore
              nextToken={older.nextToken}
              loading={older.loading}
              onLoadMore={older.load}
              label="Load older entries"
              endLabel="No older entries (they are kept a year)"
            />
          </>
        )}
      </section>
    </section>
  );
}
