import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useApi } from '../../app/api-context.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { ErrorMessage } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatDuration, formatRelative } from '../../format.js';
import {
  type AgentCommand,
  type AgentDetail,
  buildCommand,
  type CommandForm,
  type CommandFormErrors,
  type CommandStatus,
  commandProgress,
  EMPTY_COMMAND_FORM,
  type Part,
  REPLY_WAIT_MS,
} from './agent-logic.js';
import { CommandFields } from './CommandFields.js';
import { CommandReply } from './CommandReply.js';

/** How often a pending command's reply is asked for. */
const REPLY_POLL_MS = 1000;

interface Tracked {
  commandId: string;
  action: string;
  /** When the panel started waiting (sent, or "keep waiting"): the wait runs from here. */
  waitFrom: number;
}

const STATUS_BADGES: Record<CommandStatus, string> = {
  pending: 'badge-warn',
  ok: 'badge-ok',
  error: 'badge-danger',
  expired: 'badge-danger',
};

/** Send a command to the agent and watch its reply arrive (the API stores it on the command). */
export function CommandPanel({
  agent,
  recent,
  onReply,
}: {
  agent: AgentDetail;
  recent: Part<AgentCommand[]>;
  /** A reply arrived: the page reloads (a capture command changes what it shows). */
  onReply(): void;
}) {
  const api = useApi();
  const base = `/agents/${encodeURIComponent(agent.agent_id)}`;
  const [form, setForm] = useState<CommandForm>(EMPTY_COMMAND_FORM);
  const [formErrors, setFormErrors] = useState<CommandFormErrors>({});
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<Error>();
  const [tracked, setTracked] = useState<Tracked>();
  const [command, setCommand] = useState<AgentCommand>();
  const [pollError, setPollError] = useState<Error>();
  const [now, setNow] = useState(() => Date.now());
  const onReplyRef = useRef(onReply);
  onReplyRef.current = onReply;

  const progress = tracked ? commandProgress(command, now - tracked.waitFrom) : undefined;
  const waiting = progress?.state === 'pending';

  // While pending: ask for the reply every second, until it comes or the wait runs out.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `now` changes after each poll and schedules the next
  useEffect(() => {
    if (!tracked || !waiting) return;
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const { data } = await api.get<AgentCommand>(
          `${base}/commands/${encodeURIComponent(tracked.commandId)}`,
          undefined,
          { signal: controller.signal },
        );
        setCommand(data);
        setPollError(undefined);
        if (data.status !== 'pending') onReplyRef.current();
      } catch (error) {
        if ((error as Error).name !== 'AbortError') setPollError(error as Error);
      } finally {
        if (!controller.signal.aborted) setNow(Date.now());
      }
    }, REPLY_POLL_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [tracked, waiting, now, api, base]);

  async function send(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const built = buildCommand(form);
    if (!built.ok) {
      setFormErrors(built.errors);
      return;
    }
    setFormErrors({});
    setSending(true);
    setSendError(undefined);
    try {
      const { data } = await api.post<{ command_id: string; status: 'pending' }>(
        `${base}/commands`,
        built.body,
      );
      const sentAt = Date.now();
      setCommand(undefined);
      setPollError(undefined);
      setNow(sentAt);
      setTracked({ commandId: data.command_id, action: built.body.action, waitFrom: sentAt });
    } catch (error) {
      setSendError(error as Error);
    } finally {
      setSending(false);
    }
  }

  function show(existing: AgentCommand) {
    const at = Date.now();
    setCommand(existing);
    setPollError(undefined);
    setNow(at);
    setTracked({ commandId: existing.command_id, action: existing.action, waitFrom: at });
  }

  const columns: Column<AgentCommand>[] = [
    { key: 'sent', header: 'Sent', render: (c) => <Time value={c.issued_at * 1000} /> },
    { key: 'action', header: 'Action', className: 'mono', render: (c) => c.action },
    {
      key: 'status',
      header: 'Status',
      render: (c) => <span className={`badge ${STATUS_BADGES[c.status]}`}>{c.status}</span>,
    },
    {
      key: 'took',
      header: 'Reply after',
      align: 'right',
      render: (c) =>
        c.replied_at === null ? '–' : formatDuration(Math.max(0, c.replied_at - c.issued_at)),
    },
  ];

  return (
    <section className="panel command-panel" aria-labelledby="agent-commands-title">
      <h2 id="agent-commands-title">Commands</h2>
      <div className="command-layout">
        <form onSubmit={send} aria-label={`Send a command to ${agent.agent_id}`} noValidate>
          {agent.status !== 'online' ? (
            <div className="status status-warn" role="note">
              <strong>
                {agent.agent_id} is {agent.status === 'offline' ? 'offline' : 'not seen yet'}
                {agent.last_seen !== null
                  ? ` (last seen ${formatRelative(agent.last_seen * 1000)})`
                  : ''}
              </strong>
              <p>
                A command waits at the broker until the agent connects; the agent refuses one that
                reaches it more than 10 minutes after it was sent.
              </p>
            </div>
          ) : null}
          <CommandFields form={form} errors={formErrors} onChange={setForm} />
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={sending || waiting}>
              {sending ? 'Sending…' : 'Send command'}
            </button>
            {waiting ? <span className="muted">waiting for the reply to the last one</span> : null}
          </div>
          {sendError ? <ErrorMessage error={sendError} title="The command was not sent" /> : null}
        </form>

        <div className="command-results">
          <div className="command-progress" role="status" aria-live="polite">
            {tracked && progress ? (
              <CommandReply
                agentId={agent.agent_id}
                action={tracked.action}
                commandId={tracked.commandId}
                progress={progress}
                command={command}
                onKeepWaiting={() => {
                  const at = Date.now();
                  setNow(at);
                  setTracked({ ...tracked, waitFrom: at });
                }}
              />
            ) : (
              <p className="muted">
                Send a command, or pick one below, to see the agent's reply here. Replies come back
                over MQTT; the panel waits {formatDuration(REPLY_WAIT_MS / 1000)} before it says
                there is none yet.
              </p>
            )}
          </div>
          {pollError && waiting ? (
            <ErrorMessage error={pollError} title="Could not ask for the reply (still trying)" />
          ) : null}

          <h3>Recent commands</h3>
          {recent.error ? (
            <ErrorMessage error={recent.error} title="Could not load recent commands" />
          ) : (recent.value ?? []).length === 0 ? (
            <p className="muted">No commands sent to this agent in the last 30 days.</p>
          ) : (
            <DataTable
              caption="Recent commands"
              columns={columns}
              rows={recent.value ?? []}
              rowKey={(c) => c.command_id}
              onRowClick={show}
              rowLabel={(c) => `Show the reply to ${c.action} (${c.status})`}
              {...(tracked ? { selectedKey: tracked.commandId } : {})}
            />
          )}
        </div>
      </div>
    </section>
  );
}
