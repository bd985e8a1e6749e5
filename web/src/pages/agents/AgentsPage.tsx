import './agents.css';
import { useRoute } from '../../app/router.js';
import { AgentDetailPage } from './AgentDetailPage.js';
import { AgentListPage } from './AgentListPage.js';

/** `#/agents`: the list; `#/agents/<id>`: one agent's status, metrics, events and commands. */
export function AgentsPage() {
  const { segments } = useRoute();
  const agentId = segments[1];
  // A key per agent: moving to another agent starts its page afresh (no stale command panel).
  return agentId ? <AgentDetailPage key={agentId} agentId={agentId} /> : <AgentListPage />;
}
