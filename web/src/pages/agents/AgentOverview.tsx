import { Time } from '../../components/Time.js';
import { formatDuration, formatRelative } from '../../format.js';
import type { AgentDetail } from './agent-logic.js';

/** The latest heartbeat: software, capture, credential, and what the agent announces for routing. */
export function AgentOverview({ agent }: { agent: AgentDetail }) {
  const capture = agent.capture;
  const cert = agent.credentials.certificate;
  return (
    <div className="grid-2">
      <section className="panel" aria-labelledby="agent-overview-title">
        <h2 id="agent-overview-title">Overview</h2>
        <dl className="kv">
          <dt>Last seen</dt>
          <dd>
            {agent.last_seen === null ? (
              'never (no heartbeat yet)'
            ) : (
              <>
                {formatRelative(agent.last_seen * 1000)} (<Time value={agent.last_seen * 1000} />)
              </>
            )}
          </dd>
          <dt>Version</dt>
          <dd>{agent.version ?? '–'}</dd>
          <dt>Backend</dt>
          <dd>{agent.backend ?? '–'}</dd>
          <dt>Capture</dt>
          <dd>
            {capture === null ? (
              '–'
            ) : (
              <>
                <span className={`badge ${capture.running ? 'badge-ok' : ''}`}>
                  {capture.running ? 'running' : 'stopped'}
                </span>{' '}
                {capture.interface ? (
                  <>
                    on <span className="mono">{capture.interface}</span>
                  </>
                ) : capture.file ? (
                  <>
                    file <span className="mono break">{capture.file}</span>
                  </>
                ) : null}
              </>
            )}
          </dd>
          <dt>Uptime</dt>
          <dd>{agent.uptime_sec === null ? '–' : formatDuration(agent.uptime_sec)}</dd>
          <dt>Heartbeat</dt>
          <dd>
            {agent.interval_sec === null
              ? '–'
              : `every ${formatDuration(agent.interval_sec)}; offline after ${formatDuration(agent.interval_sec * 3)} of silence`}
          </dd>
          <dt>Credential</dt>
          <dd>
            {agent.credentials.login === 'none' ? (
              <span className="badge badge-danger">none (revoked)</span>
            ) : (
              agent.credentials.login
            )}
            {cert ? (
              <span className="cell-hint">
                {' '}
                <span className="mono" title={cert.certificate_id}>
                  {cert.certificate_id.slice(0, 12)}…
                </span>{' '}
                {cert.status.toLowerCase()}
                {cert.not_after ? (
                  <>
                    , valid until <Time value={Date.parse(cert.not_after)} />
                  </>
                ) : null}
              </span>
            ) : null}
          </dd>
          <dt>Registered</dt>
          <dd>
            <Time value={Date.parse(agent.created_at)} />
          </dd>
        </dl>
      </section>

      <section className="panel routing-panel" aria-labelledby="agent-routing-title">
        <h2 id="agent-routing-title">Announced for routing</h2>
        {agent.last_seen === null ? (
          <p className="muted">
            Not known yet: an agent announces its RLOCs and EID prefixes in its heartbeat.
          </p>
        ) : (
          <AnnouncedLists agent={agent} />
        )}
      </section>
    </div>
  );
}

function AnnouncedLists({ agent }: { agent: AgentDetail }) {
  return (
    <>
      <h3>RLOCs</h3>
      {agent.rlocs.length === 0 ? (
        <p className="muted">
          None. An agent announces its site's locators with <code>heartbeat.rlocs</code> in its
          config.
        </p>
      ) : (
        <table className="data-table compact-table">
          <caption className="visually-hidden">Routing locators</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col" className="align-right">
                Priority
              </th>
              <th scope="col" className="align-right">
                Weight
              </th>
            </tr>
          </thead>
          <tbody>
            {agent.rlocs.map((l) => (
              <tr key={l.address}>
                <td className="mono">{l.address}</td>
                <td className="align-right">{l.priority}</td>
                <td className="align-right">{l.weight}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>EID prefixes</h3>
      {agent.eid_prefixes.length === 0 ? (
        <p className="muted">
          None. Prefixes in <code>heartbeat.eid_prefixes</code> join the tenant's map-cache behind
          the agent's RLOCs while it is online.
        </p>
      ) : (
        <ul className="prefix-list">
          {agent.eid_prefixes.map((p) => (
            <li key={p} className="mono">
              {p}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
