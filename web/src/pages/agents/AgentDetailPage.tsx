import type { ApiClient } from '../../api/client.js';
import { useApi } from '../../app/api-context.js';
import { RefreshControls } from '../../components/RefreshControls.js';
import { ErrorMessage, Loading } from '../../components/Status.js';
import { usePolling } from '../../hooks/usePolling.js';
import { AgentOverview } from './AgentOverview.js';
import { AgentStatusBadge } from './AgentStatusBadge.js';
import {
  type AgentCommand,
  type AgentDetail,
  type AgentEvent,
  EVENTS_PAGE,
  type MetricsSample,
  type Part,
} from './agent-logic.js';
import { CommandPanel } from './CommandPanel.js';
import { EventsPanel } from './EventsPanel.js';
import { MetricsPanel } from './MetricsPanel.js';
import { PathsPanel } from './PathsPanel.js';
import { SegmentsPanel } from './SegmentsPanel.js';

const REFRESH_MS = 5_000;
/** Metrics samples drawn: 10 minutes at the default 5 s interval. */
const METRICS_SAMPLES = 120;
const RECENT_COMMANDS = 8;

async function part<T>(load: Promise<T>): Promise<Part<T>> {
  try {
    return { value: await load };
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    return { error: error as Error };
  }
}

export interface AgentPageData {
  agent: AgentDetail;
  metrics: Part<MetricsSample[]>;
  events: Part<{ events: AgentEvent[]; next_token: string | null }>;
  commands: Part<AgentCommand[]>;
}

async function loadAgentPage(
  api: ApiClient,
  agentId: string,
  signal: AbortSignal,
): Promise<AgentPageData> {
  const base = `/agents/${encodeURIComponent(agentId)}`;
  const options = { signal };
  const [agent, metrics, events, commands] = await Promise.all([
    api.get<AgentDetail>(base, undefined, options),
    part(
      api
        .get<{ metrics: MetricsSample[] }>(`${base}/metrics`, { limit: METRICS_SAMPLES }, options)
        .then((r) => r.data.metrics),
    ),
    part(
      api
        .get<{ events: AgentEvent[]; next_token: string | null }>(
          `${base}/events`,
          { limit: EVENTS_PAGE },
          options,
        )
        .then((r) => r.data),
    ),
    part(
      api
        .get<{ commands: AgentCommand[] }>(`${base}/commands`, { limit: RECENT_COMMANDS }, options)
        .then((r) => r.data.commands),
    ),
  ]);
  return { agent: agent.data, metrics, events, commands };
}

/** `#/agents/<id>`: status, what it announces, metrics, commands and events. */
export function AgentDetailPage({ agentId }: { agentId: string }) {
  const api = useApi();
  const polling = usePolling((signal) => loadAgentPage(api, agentId, signal), {
    intervalMs: REFRESH_MS,
    deps: [api, agentId],
  });
  const data = polling.data;

  return (
    <section className="page agent-page" aria-labelledby="agent-title">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <a href="#/agents">Agents</a>
        <span aria-hidden="true"> › </span>
        <span aria-current="page">{agentId}</span>
      </nav>
      <header className="page-header">
        <div className="agent-heading">
          <h1 id="agent-title">
            Agent <span className="mono">{agentId}</span>
          </h1>
          {data ? <AgentStatusBadge status={data.agent.status} /> : null}
        </div>
        <RefreshControls polling={polling} intervalMs={REFRESH_MS} />
      </header>

      {polling.error ? (
        <ErrorMessage error={polling.error} title={`Could not load agent ${agentId}`}>
          <p>
            <a href="#/agents">Back to all agents</a>
          </p>
        </ErrorMessage>
      ) : null}

      {!data ? (
        polling.error ? null : (
          <Loading label={`Loading agent ${agentId}…`} />
        )
      ) : (
        <>
          <AgentOverview agent={data.agent} />
          <MetricsPanel agent={data.agent} samples={data.metrics} />
          <div className="agent-columns">
            <CommandPanel agent={data.agent} recent={data.commands} onReply={polling.refresh} />
            <EventsPanel agentId={agentId} newest={data.events} />
          </div>
          <PathsPanel agentId={agentId} />
          <SegmentsPanel agentId={agentId} />
        </>
      )}
    </section>
  );
}
