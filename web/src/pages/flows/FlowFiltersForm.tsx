import { useEffect, useState } from 'react';
import { Field } from '../../components/Field.js';
import {
  customRangeProblem,
  DEFAULT_FILTERS,
  FLOW_SORTS,
  type FlowFilters,
  type FlowSort,
  fromDateTimeLocal,
  LIMITS,
  SORT_LABELS,
  TIME_RANGES,
  type TimeRange,
  toDateTimeLocal,
} from './flow-logic.js';

export interface FlowFiltersFormProps {
  filters: FlowFilters;
  /** Agent ids for the agent menu (the current filter is offered even when missing). */
  agentIds: readonly string[];
  onChange(filters: FlowFilters): void;
}

/** Sort, agent, minimum packets, time window and size: each change applies at once. */
export function FlowFiltersForm({ filters, agentIds, onChange }: FlowFiltersFormProps) {
  // Typed digits apply after a short pause, not at every keystroke.
  const [minText, setMinText] = useState(String(filters.minPackets || ''));
  useEffect(
    () => setMinText(filters.minPackets ? String(filters.minPackets) : ''),
    [filters.minPackets],
  );
  const minValid = /^\d{0,15}$/.test(minText.trim());
  useEffect(() => {
    if (!minValid) return;
    const value = Number(minText.trim() || '0');
    if (value === filters.minPackets) return;
    const timer = setTimeout(() => onChange({ ...filters, minPackets: value }), 500);
    return () => clearTimeout(timer);
  }, [minText, minValid, filters, onChange]);

  const set = (patch: Partial<FlowFilters>) => onChange({ ...filters, ...patch });
  const agents = [...new Set([...agentIds, ...(filters.agent ? [filters.agent] : [])])].sort();
  const rangeProblem = customRangeProblem(filters);
  const isDefault =
    filters.sort === DEFAULT_FILTERS.sort &&
    !filters.agent &&
    !filters.minPackets &&
    filters.range === DEFAULT_FILTERS.range &&
    filters.limit === DEFAULT_FILTERS.limit;

  return (
    <form
      className="flow-filters"
      aria-label="Flow filters"
      onSubmit={(event) => {
        event.preventDefault();
        if (minValid) set({ minPackets: Number(minText.trim() || '0') });
      }}
    >
      <div className="form-row">
        <Field label="Show" className="field-wide">
          <select value={filters.sort} onChange={(e) => set({ sort: e.target.value as FlowSort })}>
            {FLOW_SORTS.map((sort) => (
              <option key={sort} value={sort}>
                {SORT_LABELS[sort]}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Agent">
          <select value={filters.agent} onChange={(e) => set({ agent: e.target.value })}>
            <option value="">All agents</option>
            {agents.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Min. packets" error={minValid ? undefined : 'a whole number, 0 or more'}>
          <input
            type="text"
            inputMode="numeric"
            value={minText}
            placeholder="0"
            onChange={(e) => setMinText(e.target.value)}
          />
        </Field>
        <Field label="Last seen">
          <select
            value={filters.range}
            onChange={(e) => {
              const range = e.target.value as TimeRange;
              if (range !== 'custom') return set({ range, sinceMs: undefined, untilMs: undefined });
              // Start a custom window as the last hour, to edit from there.
              const now = Date.now();
              set({ range, sinceMs: now - 3_600_000, untilMs: now });
            }}
          >
            {TIME_RANGES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </Field>
        <Field label={filters.sort === 'time' ? 'Page size' : 'Top N'}>
          <select value={filters.limit} onChange={(e) => set({ limit: Number(e.target.value) })}>
            {[...new Set([...LIMITS, filters.limit])]
              .sort((a, b) => a - b)
              .map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
          </select>
        </Field>
        {isDefault ? null : (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => onChange({ ...DEFAULT_FILTERS, group: filters.group })}
          >
            Clear filters
          </button>
        )}
      </div>
      {filters.range === 'custom' ? (
        <div className="form-row">
          <Field label="From (local time)" error={rangeProblem}>
            <input
              type="datetime-local"
              value={filters.sinceMs !== undefined ? toDateTimeLocal(filters.sinceMs) : ''}
              onChange={(e) => set({ sinceMs: fromDateTimeLocal(e.target.value) })}
            />
          </Field>
          <Field label="To (local time)">
            <input
              type="datetime-local"
              value={filters.untilMs !== undefined ? toDateTimeLocal(filters.untilMs) : ''}
              onChange={(e) => set({ untilMs: fromDateTimeLocal(e.target.value) })}
            />
          </Field>
        </div>
      ) : null}
    </form>
  );
}
