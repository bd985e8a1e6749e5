import { formatCount, formatDuration, formatTime } from '../../format.js';
import {
  type AgentCommand,
  type CommandProgress,
  flattenResult,
  type ResultValue,
} from './agent-logic.js';

function showValue(key: string, value: ResultValue): string {
  if (value === null) return '–';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  // Epoch seconds read as a time, not as a count with thousands separators.
  if (typeof value === 'number' && /(^|\.|_)(timestamp|at)$/.test(key)) {
    return formatTime(value * 1000).text;
  }
  if (typeof value === 'number') return formatCount(value);
  return value;
}

/** One command's state: waiting (with how long), the agent's result, its error, or no reply. */
export function CommandReply({
  agentId,
  action,
  commandId,
  progress,
  command,
  onKeepWaiting,
}: {
  agentId: string;
  action: string;
  commandId: string;
  progress: CommandProgress;
  command: AgentCommand | undefined;
  onKeepWaiting(): void;
}) {
  const title = (
    <span className="command-title">
      <span className="mono">{action}</span>{' '}
      <span className="mono cell-hint" title="Command id">
        {commandId}
      </span>
    </span>
  );
  const took =
    command?.replied_at != null
      ? formatDuration(Math.max(0, command.replied_at - command.issued_at))
      : undefined;

  switch (progress.state) {
    case 'pending':
      return (
        <div className="status status-loading command-state">
          <span className="spinner" aria-hidden="true" />
          <div>
            {title}
            <p>
              Pending: waiting for {agentId}'s reply…{' '}
              <span aria-hidden="true">{Math.floor(progress.waitedMs / 1000)} s</span>
            </p>
          </div>
        </div>
      );
    case 'no_reply':
      return (
        <div className="status status-warn command-state">
          {title}
          <p>
            <strong>No reply after {formatDuration(progress.waitedMs / 1000)}.</strong> The agent
            may be offline or busy. The command stays queued; the API marks it expired if no reply
            comes within 11 minutes.
          </p>
          <button type="button" className="button" onClick={onKeepWaiting}>
            Keep waiting
          </button>
        </div>
      );
    case 'expired':
      return (
        <div className="status status-error command-state">
          {title}
          <p>
            <strong>Expired:</strong> no reply came within 11 minutes, or the agent received the
            command too late to carry it out.
          </p>
        </div>
      );
    case 'error':
      return (
        <div className="status status-error command-state">
          {title}
          <p>
            <strong>Failed</strong>
            {took ? ` (replied after ${took})` : ''}:{' '}
            <code className="error-code">{progress.code}</code> {progress.message}
          </p>
        </div>
      );
    case 'ok': {
      const rows = flattenResult(progress.result);
      return (
        <div className="status status-ok command-state">
          {title}
          <p>
            <strong>Reply: ok</strong>
            {took ? `, after ${took}` : ''}
          </p>
          {rows.length > 0 ? (
            // A long result scrolls, so it takes the focus for keyboard scrolling.
            <dl className="kv command-result" aria-label="Command result" tabIndex={0}>
              {rows.map(([key, value]) => (
                <div key={key} className="kv-row">
                  <dt className="mono">{key}</dt>
                  <dd className="mono">{showValue(key, value)}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="muted">The agent returned no details.</p>
          )}
        </div>
      );
    }
  }
}
