import { WORKLOAD_TYPES, type WorkloadType } from '../../api/types.js';

/**
 * The packet table's filters, kept in the address (`#/packets?model=…`), so
 * they survive paging, opening a packet and coming back, and a reload. Pure:
 * unit-tested in node.
 */

export const TIME_RANGES = {
  all: { label: 'Any time', ms: undefined },
  '15m': { label: 'Last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'Last hour', ms: 3_600_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
  custom: { label: 'Custom range', ms: undefined },
} as const;
export type TimeRange = keyof typeof TIME_RANGES;

export interface PacketFilters {
  model?: string;
  workload?: WorkloadType;
  range: TimeRange;
  /** Custom range bounds, epoch ms (only with range 'custom'). */
  since?: number;
  until?: number;
}

const isRange = (value: string | null): value is TimeRange =>
  value !== null && Object.hasOwn(TIME_RANGES, value);

function epochMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export function filtersFromQuery(query: URLSearchParams): PacketFilters {
  const model = query.get('model')?.trim();
  const workload = query.get('workload');
  const rangeParam = query.get('range');
  const range: TimeRange = isRange(rangeParam) ? rangeParam : 'all';
  const since = range === 'custom' ? epochMs(query.get('since')) : undefined;
  const until = range === 'custom' ? epochMs(query.get('until')) : undefined;
  return {
    ...(model ? { model: model.slice(0, 64) } : {}),
    ...(workload && (WORKLOAD_TYPES as readonly string[]).includes(workload)
      ? { workload: workload as WorkloadType }
      : {}),
    range,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
  };
}

/** The address's query for these filters (defaults left out). */
export function filtersToQuery(filters: PacketFilters): Record<string, string | undefined> {
  return {
    model: filters.model,
    workload: filters.workload,
    range: filters.range === 'all' ? undefined : filters.range,
    since:
      filters.range === 'custom' && filters.since !== undefined
        ? new Date(filters.since).toISOString()
        : undefined,
    until:
      filters.range === 'custom' && filters.until !== undefined
        ? new Date(filters.until).toISOString()
        : undefined,
  };
}

/**
 * The API's query parameters (shared by /packets/recent and the downloads).
 * A relative range ends now: `nowMs` is when the request is made.
 */
export function filtersToApi(
  filters: PacketFilters,
  nowMs: number,
): { model?: string; workload_type?: string; since?: string; until?: string } {
  const preset = TIME_RANGES[filters.range].ms;
  const since =
    preset !== undefined ? nowMs - preset : filters.range === 'custom' ? filters.since : undefined;
  const until = filters.range === 'custom' ? filters.until : undefined;
  return {
    ...(filters.model ? { model: filters.model } : {}),
    ...(filters.workload ? { workload_type: filters.workload } : {}),
    ...(since !== undefined ? { since: new Date(since).toISOString() } : {}),
    ...(until !== undefined ? { until: new Date(until).toISOString() } : {}),
  };
}

/** "model gpt-4, workload code_generation, last hour" or "all packets". */
export function describeFilters(filters: PacketFilters): string {
  const parts: string[] = [];
  if (filters.model) parts.push(`model ${filters.model}`);
  if (filters.workload) parts.push(`workload ${filters.workload}`);
  if (filters.range === 'custom') {
    const at = (ms: number | undefined) =>
      ms === undefined ? '…' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    if (filters.since !== undefined || filters.until !== undefined) {
      parts.push(`${at(filters.since)} to ${at(filters.until)} UTC`);
    }
  } else if (filters.range !== 'all') {
    parts.push(TIME_RANGES[filters.range].label.toLowerCase());
  }
  return parts.length ? parts.join(', ') : 'all packets';
}

export const hasFilters = (filters: PacketFilters) =>
  Boolean(filters.model || filters.workload || filters.range !== 'all');
