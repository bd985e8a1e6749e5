import { type AgentStatus, STATUS_BADGES, STATUS_LABELS } from './agent-logic.js';

const MEANING: Record<AgentStatus, string> = {
  online: 'Its latest heartbeat arrived within three heartbeat intervals',
  offline: 'No heartbeat for more than three heartbeat intervals',
  never_seen: 'Registered, but no heartbeat has arrived yet',
};

export function AgentStatusBadge({ status }: { status: AgentStatus }) {
  return (
    <span className={`badge ${STATUS_BADGES[status]}`} title={MEANING[status]}>
      <span className={`agent-dot agent-dot-${status}`} aria-hidden="true" />
      {STATUS_LABELS[status]}
    </span>
  );
}
