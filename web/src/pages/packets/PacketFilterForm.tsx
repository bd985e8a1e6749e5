import { WORKLOAD_TYPES, type WorkloadType } from '../../api/types.js';
import { Field } from '../../components/Field.js';
import { hasFilters, type PacketFilters, TIME_RANGES, type TimeRange } from './filters.js';

/** `<input type="datetime-local">` speaks local time without a zone: "2026-01-05T10:00". */
function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** Model, workload and time range; every change applies at once (and goes into the address). */
export function PacketFilterForm({
  filters,
  models,
  onChange,
}: {
  filters: PacketFilters;
  models: string[];
  onChange(filters: PacketFilters): void;
}) {
  const set = (patch: Partial<PacketFilters>) => {
    const next: PacketFilters = { ...filters, ...patch };
    for (const key of Object.keys(next) as (keyof PacketFilters)[]) {
      if (next[key] === undefined || next[key] === '') delete next[key];
    }
    onChange(next);
  };
  const rangeError =
    filters.range === 'custom' &&
    filters.since !== undefined &&
    filters.until !== undefined &&
    filters.since > filters.until
      ? 'The start is after the end.'
      : undefined;
  return (
    <form
      className="form-row filters"
      aria-label="Packet filters"
      onSubmit={(e) => e.preventDefault()}
    >
      <Field label="Model">
        <select
          value={filters.model ?? ''}
          onChange={(e) => set({ model: e.target.value || undefined })}
        >
          <option value="">Any model</option>
          {models.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Workload">
        <select
          value={filters.workload ?? ''}
          onChange={(e) =>
            set({ workload: (e.target.value || undefined) as WorkloadType | undefined })
          }
        >
          <option value="">Any workload</option>
          {WORKLOAD_TYPES.map((w) => (
            <option key={w} value={w}>
              {w}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Time range">
        <select
          value={filters.range}
          onChange={(e) => {
            const range = e.target.value as TimeRange;
            set(
              range === 'custom'
                ? { range, since: filters.since ?? Date.now() - 3_600_000 }
                : { range, since: undefined, until: undefined },
            );
          }}
        >
          {Object.entries(TIME_RANGES).map(([value, { label }]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </Field>
      {filters.range === 'custom' ? (
        <>
          <Field label="From (local time)" error={rangeError}>
            <input
              type="datetime-local"
              value={toLocalInput(filters.since)}
              onChange={(e) => set({ since: fromLocalInput(e.target.value) })}
            />
          </Field>
          <Field label="To (local time)" hint="Empty: until now">
            <input
              type="datetime-local"
              value={toLocalInput(filters.until)}
              onChange={(e) => set({ until: fromLocalInput(e.target.value) })}
            />
          </Field>
        </>
      ) : null}
      <div className="form-actions">
        <button
          type="button"
          className="button"
          disabled={!hasFilters(filters)}
          onClick={() => onChange({ range: 'all' })}
        >
          Clear filters
        </button>
      </div>
    </form>
  );
}
