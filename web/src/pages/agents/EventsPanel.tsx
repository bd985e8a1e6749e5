import { useApi } from '../../app/api-context.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { LoadMore } from '../../components/LoadMore.js';
import { EmptyState, ErrorMessage } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatCount } from '../../format.js';
import { useMorePages } from '../../hooks/useMorePages.js';
import {
  type AgentEvent,
  describeDetails,
  EVENTS_PAGE,
  mergeEvents,
  type Part,
  SEVERITY_BADGES,
} from './agent-logic.js';

interface EventPage {
  events: AgentEvent[];
  next_token: string | null;
}

const COLUMNS: Column<AgentEvent>[] = [
  { key: 'time', header: 'Time', render: (e) => <Time value={e.sent_at * 1000} /> },
  {
    key: 'severity',
    header: 'Severity',
    render: (e) => <span className={`badge ${SEVERITY_BADGES[e.severity]}`}>{e.severity}</span>,
  },
  { key: 'type', header: 'Type', className: 'mono', render: (e) => e.type },
  {
    key: 'message',
    header: 'Message',
    render: (e) => {
      const details = describeDetails(e.details);
      return (
        <div className="event-message">
          {e.message}
          {details ? <div className="event-details mono">{details}</div> : null}
        </div>
      );
    },
  },
];

/** The agent's events, newest first; older pages on request (kept while the newest refresh). */
export function EventsPanel({ agentId, newest }: { agentId: string; newest: Part<EventPage> }) {
  const api = useApi();
  const older = useMorePages(newest.value?.next_token, async (token) => {
    const { data } = await api.get<EventPage>(`/agents/${encodeURIComponent(agentId)}/events`, {
      limit: EVENTS_PAGE,
      next_token: token,
    });
    return { items: data.events, next_token: data.next_token };
  });
  const events = mergeEvents(newest.value?.events ?? [], older.items);
  const { nextToken, loading, error } = older;
  const loadOlder = older.load;

  return (
    <section className="panel events-panel" aria-labelledby="agent-events-title">
      <div className="panel-header">
        <h2 id="agent-events-title">Events</h2>
        {events.length > 0 ? (
          <span className="muted">{formatCount(events.length)} shown, newest first</span>
        ) : null}
      </div>
      {newest.error ? (
        <ErrorMessage error={newest.error} title="Could not load events" />
      ) : events.length === 0 ? (
        <EmptyState title="No events in the last 30 days">
          <p>Agents report starts, stops, capture failures, high drop rates and spool overflows.</p>
        </EmptyState>
      ) : (
        <>
          <DataTable
            caption={`Events of ${agentId}`}
            columns={COLUMNS}
            rows={events}
            rowKey={(e) => e.event_id}
          />
          {error ? <ErrorMessage error={error} title="Could not load older events" /> : null}
          <LoadMore
            nextToken={nextToken}
            loading={loading}
            onLoadMore={loadOlder}
            label="Load older events"
            endLabel="No older events (they are kept 30 days)"
          />
        </>
      )}
    </section>
  );
}
