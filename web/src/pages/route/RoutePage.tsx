import { type FormEvent, type Ref, useState } from 'react';
import { ApiRequestError } from '../../api/client.js';
import { fieldErrors } from '../../api/field-errors.js';
import { frameSize, PRIORITIES, type Priority, type RouteDecision } from '../../api/types.js';
import { useApi } from '../../app/api-context.js';
import { Field } from '../../components/Field.js';
import { ErrorMessage } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatBytes } from '../../format.js';
import { useFocusAfterRender } from '../../hooks/useFocusAfterRender.js';

const EXAMPLES: { label: string; query: string; priority: Priority }[] = [
  { label: 'Code', query: 'Write a Python function to calculate factorial', priority: 'medium' },
  {
    label: 'Private',
    query: 'Review this confidential contract for our patient records',
    priority: 'high',
  },
  {
    label: 'Reasoning',
    query: 'Analyze the trade-offs of microservices versus a monolith step by step',
    priority: 'high',
  },
  { label: 'Quick', query: 'What is DNS?', priority: 'low' },
];

const PRIORITY_HINTS: Record<Priority, string> = {
  high: 'quality first (inner DSCP AF41)',
  medium: 'balanced (AF21)',
  low: 'cheapest and fastest (CS1)',
};

/** The routing playground: a query in, the decision, its reasons and its packet out. */
export function RoutePage() {
  const api = useApi();
  const [query, setQuery] = useState('');
  const [sourceEid, setSourceEid] = useState('10.1.0.5');
  const [priority, setPriority] = useState<Priority>('medium');
  const [sending, setSending] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<Error>();
  const [decision, setDecision] = useState<RouteDecision>();
  const [resultRef, focusResult] = useFocusAfterRender<HTMLElement>();
  // Editing a field retires its error; the others stay until the next send.
  const clearError = (field: string) =>
    setErrors((current) => {
      if (!(field in current)) return current;
      const { [field]: _, ...rest } = current;
      return rest;
    });

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!query.trim()) {
      setErrors({ query: 'Enter a query to route.' });
      return;
    }
    setSending(true);
    setErrors({});
    setFailure(undefined);
    try {
      const res = await api.post<RouteDecision>('/route', {
        query,
        ...(sourceEid.trim() ? { source_eid: sourceEid.trim() } : {}),
        priority,
      });
      setDecision(res.data);
      // Move to the answer, as a screen reader user would want.
      focusResult();
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 400) {
        const { fields, rest } = fieldErrors(error.message);
        setErrors(fields);
        if (rest.length || Object.keys(fields).length === 0) setFailure(error);
      } else {
        setFailure(error as Error);
      }
    } finally {
      setSending(false);
    }
  }

  return (
    <section className="page" aria-labelledby="route-title">
      <div className="page-header">
        <div>
          <h1 id="route-title">Route</h1>
          <p>
            Send a query as a client at a source EID would: see which model takes it, why, and the
            LISP packet.
          </p>
        </div>
      </div>
      <section className="panel" aria-labelledby="query-title">
        <h2 id="query-title">Send a query</h2>
        <form onSubmit={onSubmit} noValidate className="route-form">
          <Field
            label="Query"
            error={errors.query}
            hint="Classified into a workload type by the words it uses"
          >
            <textarea
              rows={3}
              value={query}
              onChange={(e) => {
                setQuery(e.target.value);
                clearError('query');
              }}
            />
          </Field>
          <div className="examples">
            <span className="muted">Examples:</span>
            {EXAMPLES.map((example) => (
              <button
                key={example.label}
                type="button"
                className="button button-small"
                onClick={() => {
                  setQuery(example.query);
                  setPriority(example.priority);
                }}
              >
                {example.label}
              </button>
            ))}
          </div>
          <div className="form-row">
            <Field label="Source EID" error={errors.source_eid} hint="Unicast IPv4, e.g. 10.1.0.5">
              <input
                className="mono"
                value={sourceEid}
                onChange={(e) => {
                  setSourceEid(e.target.value);
                  clearError('source_eid');
                }}
                inputMode="decimal"
                autoComplete="off"
                spellCheck={false}
              />
            </Field>
            <Field label="Priority" error={errors.priority} hint={PRIORITY_HINTS[priority]}>
              <select value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
                {PRIORITIES.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
            </Field>
            <div className="form-actions">
              <button type="submit" className="button button-primary" disabled={sending}>
                {sending ? 'Routing…' : 'Route query'}
              </button>
            </div>
          </div>
        </form>
      </section>
      {failure ? <ErrorMessage error={failure} title="The query was not routed" /> : null}
      {decision ? <DecisionView decision={decision} ref={resultRef} /> : null}
    </section>
  );
}

function DecisionView({ decision, ref }: { decision: RouteDecision; ref: Ref<HTMLElement> }) {
  const packet = decision.lisp_packet;
  const size = frameSize(packet);
  return (
    <section className="panel" aria-labelledby="decision-title" tabIndex={-1} ref={ref}>
      <h2 id="decision-title">Decision</h2>
      <div className="grid-2">
        <dl className="kv">
          <dt>Model</dt>
          <dd className="decision-model">{decision.selected_model}</dd>
          <dt>Endpoint</dt>
          <dd className="mono">{decision.endpoint}</dd>
          <dt>Workload</dt>
          <dd>
            <span className="badge">{decision.workload_type}</span> confidence{' '}
            {Math.round(decision.confidence * 100)}%
          </dd>
        </dl>
        <dl className="kv">
          <dt>Packet</dt>
          <dd>
            <a className="mono" href={`#/packets/${packet.packet_id}`}>
              {packet.packet_id}
            </a>{' '}
            (<a href="#/packets">see it in Packets</a>)
          </dd>
          <dt>Time</dt>
          <dd className="mono">
            <Time value={packet.timestamp * 1000} ms />
          </dd>
          <dt>EID</dt>
          <dd className="mono">
            {packet.inner_header.src_ip} → {packet.inner_header.dst_ip}
          </dd>
          <dt>RLOC</dt>
          <dd className="mono">
            {packet.outer_header.src_ip} → {packet.outer_header.dst_ip}:
            {packet.outer_header.dst_port}
          </dd>
          <dt>LISP</dt>
          <dd className="mono">
            IID {packet.instance_id}, flags {packet.lisp_header.flag_names}, nonce{' '}
            {packet.lisp_header.nonce}
          </dd>
          <dt>Size</dt>
          <dd>{size === undefined ? '–' : formatBytes(size)}</dd>
        </dl>
      </div>
      <h3>Reasons</h3>
      <ol className="reasons">
        {decision.reasons.map((reason, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: reasons are an ordered list that never reorders
          <li key={i}>{reason}</li>
        ))}
      </ol>
    </section>
  );
}
