/**
 * The Flows page's data logic: filters in the address bar, the /flows query,
 * and what the table and the top-talkers chart show. Pure (no DOM, no React):
 * unit-tested in node (test/unit/web/pages/flow-logic.test.ts).
 */

/** A flow record as GET /api/v1/flows returns it (functions/api/routes/flows.ts flowView). */
export interface Flow {
  flow_id: string;
  record_id: string;
  agent_id: string;
  ip_version: 4 | 6;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  protocol: number;
  vlan_id: number;
  packets: number;
  bytes: number;
  packets_fwd: number;
  packets_rev: number;
  bytes_fwd: number;
  bytes_rev: number;
  /** Epoch seconds. */
  first_seen: number;
  last_seen: number;
  duration_sec: number;
  tcp_flags: string;
  state: 'ACTIVE' | 'CLOSING' | 'CLOSED';
  end_reason: 'idle' | 'active' | 'fin_rst' | 'end_of_capture' | 'evicted' | null;
}

/** packets, bytes, duration: a ranking (top N, not paged); time: every record, newest first, paged. */
export type FlowSort = 'bytes' | 'packets' | 'duration' | 'time';
export const FLOW_SORTS: readonly FlowSort[] = ['bytes', 'packets', 'duration', 'time'];

export const SORT_LABELS: Record<FlowSort, string> = {
  bytes: 'Top flows by bytes',
  packets: 'Top flows by packets',
  duration: 'Longest flows',
  time: 'Newest records first (all, paged)',
};

export function isRanking(sort: FlowSort): boolean {
  return sort !== 'time';
}

/** Time windows on last_seen; 'all' = everything stored (flows are kept 14 days). */
export const TIME_RANGES = [
  { value: 'all', label: 'All stored (14 days)', seconds: undefined },
  { value: '15m', label: 'Last 15 minutes', seconds: 15 * 60 },
  { value: '1h', label: 'Last hour', seconds: 3600 },
  { value: '6h', label: 'Last 6 hours', seconds: 6 * 3600 },
  { value: '24h', label: 'Last 24 hours', seconds: 86_400 },
  { value: '7d', label: 'Last 7 days', seconds: 7 * 86_400 },
  { value: 'custom', label: 'Custom…', seconds: undefined },
] as const;
export type TimeRange = (typeof TIME_RANGES)[number]['value'];

export const LIMITS = [25, 50, 100, 250, 500, 1000] as const;
export const DEFAULT_LIMIT = 100;

export type TalkerGrouping = 'host' | 'src' | 'dst' | 'pair' | 'service';
export const TALKER_GROUPINGS: readonly { value: TalkerGrouping; label: string }[] = [
  { value: 'host', label: 'Host (sent + received)' },
  { value: 'src', label: 'Source host' },
  { value: 'dst', label: 'Destination host' },
  { value: 'pair', label: 'Conversation (host pair)' },
  { value: 'service', label: 'Service (protocol/port)' },
];

export interface FlowFilters {
  sort: FlowSort;
  /** Empty = every agent of the tenant. */
  agent: string;
  minPackets: number;
  range: TimeRange;
  /** Custom range bounds, epoch milliseconds (only with range 'custom'). */
  sinceMs?: number | undefined;
  untilMs?: number | undefined;
  limit: number;
  group: TalkerGrouping;
}

export const DEFAULT_FILTERS: FlowFilters = {
  sort: 'bytes',
  agent: '',
  minPackets: 0,
  range: 'all',
  limit: DEFAULT_LIMIT,
  group: 'host',
};

const AGENT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function wholeNumber(value: string | null): number | undefined {
  if (value === null || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** Filters from the page's address (`#/flows?sort=packets&agent=edge-1`); anything odd falls back to the default. */
export function parseFlowFilters(query: URLSearchParams): FlowFilters {
  const range = oneOf(
    query.get('range'),
    TIME_RANGES.map((r) => r.value),
    DEFAULT_FILTERS.range,
  );
  const limit = wholeNumber(query.get('limit'));
  const agent = query.get('agent') ?? '';
  const filters: FlowFilters = {
    sort: oneOf(query.get('sort'), FLOW_SORTS, DEFAULT_FILTERS.sort),
    agent: AGENT_ID.test(agent) ? agent : '',
    minPackets: wholeNumber(query.get('min')) ?? 0,
    range,
    limit: limit !== undefined && limit >= 1 && limit <= 1000 ? limit : DEFAULT_LIMIT,
    group: oneOf(
      query.get('group'),
      TALKER_GROUPINGS.map((g) => g.value),
      DEFAULT_FILTERS.group,
    ),
  };
  if (range === 'custom') {
    filters.sinceMs = wholeNumber(query.get('since'));
    filters.untilMs = wholeNumber(query.get('until'));
  }
  return filters;
}

/** The address-bar form of the filters: only what differs from the defaults. */
export function flowFiltersToQuery(filters: FlowFilters): Record<string, string | undefined> {
  const differs = <K extends keyof FlowFilters>(key: K) =>
    filters[key] !== DEFAULT_FILTERS[key] ? String(filters[key]) : undefined;
  return {
    sort: differs('sort'),
    agent: filters.agent || undefined,
    min: filters.minPackets > 0 ? String(filters.minPackets) : undefined,
    range: differs('range'),
    since:
      filters.range === 'custom' && filters.sinceMs !== undefined
        ? String(filters.sinceMs)
        : undefined,
    until:
      filters.range === 'custom' && filters.untilMs !== undefined
        ? String(filters.untilMs)
        : undefined,
    limit: differs('limit'),
    group: differs('group'),
  };
}

/** Query parameters of GET /flows (since/until in epoch seconds, as the API takes them). */
export interface FlowsApiQuery {
  [name: string]: string | number | undefined;
  sort_by: FlowSort;
  limit: number;
  agent_id?: string | undefined;
  min_packets?: number | undefined;
  since?: number | undefined;
  until?: number | undefined;
}

/**
 * The /flows query for these filters at `nowMs`. A relative range slides with
 * each refresh; a page chain (sort=time) keeps the query of its first page,
 * because the API binds next_token to every parameter but limit.
 */
export function flowsApiQuery(filters: FlowFilters, nowMs: number): FlowsApiQuery {
  const query: FlowsApiQuery = { sort_by: filters.sort, limit: filters.limit };
  if (filters.agent) query.agent_id = filters.agent;
  if (filters.minPackets > 0) query.min_packets = filters.minPackets;
  const preset = TIME_RANGES.find((r) => r.value === filters.range);
  if (preset?.seconds !== undefined) {
    query.since = Math.floor(nowMs / 1000) - preset.seconds;
  } else if (filters.range === 'custom') {
    if (filters.sinceMs !== undefined) query.since = Math.floor(filters.sinceMs / 1000);
    if (filters.untilMs !== undefined) query.until = Math.ceil(filters.untilMs / 1000);
  }
  return query;
}

/** A problem with the filters the page can name before asking the API. */
export function customRangeProblem(filters: FlowFilters): string | undefined {
  if (filters.range !== 'custom') return undefined;
  if (
    filters.sinceMs !== undefined &&
    filters.untilMs !== undefined &&
    filters.sinceMs > filters.untilMs
  ) {
    return '"From" is after "to"';
  }
  return undefined;
}

/** IANA protocol numbers an engineer meets on an edge link. */
const PROTOCOLS: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  132: 'SCTP',
};

export function protocolName(protocol: number): string {
  return PROTOCOLS[protocol] ?? `proto ${protocol}`;
}

/** Well-known service ports (TCP and UDP alike), for a hint beside the port. */
const SERVICES: Record<number, string> = {
  20: 'ftp-data',
  21: 'ftp',
  22: 'ssh',
  23: 'telnet',
  25: 'smtp',
  53: 'dns',
  67: 'dhcp',
  68: 'dhcp',
  80: 'http',
  110: 'pop3',
  123: 'ntp',
  143: 'imap',
  161: 'snmp',
  179: 'bgp',
  389: 'ldap',
  443: 'https',
  514: 'syslog',
  587: 'submission',
  636: 'ldaps',
  853: 'dns-over-tls',
  993: 'imaps',
  1883: 'mqtt',
  2055: 'netflow',
  3306: 'mysql',
  4341: 'lisp-data',
  4342: 'lisp-control',
  4739: 'ipfix',
  5432: 'postgres',
  6379: 'redis',
  8000: 'http-alt',
  8080: 'http-alt',
  8443: 'https-alt',
  8883: 'mqtts',
};

/** Ports mean a service only for TCP, UDP and SCTP. */
export function hasPorts(protocol: number): boolean {
  return protocol === 6 || protocol === 17 || protocol === 132;
}

export function serviceName(port: number, protocol: number): string | undefined {
  return hasPorts(protocol) ? SERVICES[port] : undefined;
}

/** `10.0.0.1:443`, `[2001:db8::1]:443`, or the bare address for a protocol without ports. */
export function formatEndpoint(ip: string, port: number, protocol: number): string {
  if (!hasPorts(protocol)) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** What a talker is measured in: the ranking's own measure, bytes for the others. */
export function talkerMetric(sort: FlowSort): 'bytes' | 'packets' {
  return sort === 'packets' ? 'packets' : 'bytes';
}

export interface Talker {
  label: string;
  value: number;
}

/** The service of a flow as "TCP/443 (https)", the port being the lower one (the server side, mostly). */
function serviceLabel(flow: Flow): string {
  const name = protocolName(flow.protocol);
  if (!hasPorts(flow.protocol)) return name;
  const port = Math.min(flow.src_port, flow.dst_port) || Math.max(flow.src_port, flow.dst_port);
  const known = serviceName(flow.dst_port, flow.protocol)
    ? flow.dst_port
    : serviceName(flow.src_port, flow.protocol)
      ? flow.src_port
      : port;
  const service = serviceName(known, flow.protocol);
  return `${name}/${known}${service ? ` (${service})` : ''}`;
}

/**
 * Top talkers among the given flows: bytes or packets summed per host, host
 * pair or service, largest first. 'host' counts a flow for both its ends, as
 * ntopng's "sent + received" does.
 */
export function topTalkers(
  flows: readonly Flow[],
  grouping: TalkerGrouping,
  metric: 'bytes' | 'packets',
): Talker[] {
  const totals = new Map<string, number>();
  const add = (label: string, value: number) => totals.set(label, (totals.get(label) ?? 0) + value);
  for (const flow of flows) {
    const value = flow[metric];
    switch (grouping) {
      case 'host':
        add(flow.src_ip, value);
        if (flow.dst_ip !== flow.src_ip) add(flow.dst_ip, value);
        break;
      case 'src':
        add(flow.src_ip, value);
        break;
      case 'dst':
        add(flow.dst_ip, value);
        break;
      case 'pair': {
        const [a, b] = [flow.src_ip, flow.dst_ip].sort();
        add(`${a} ↔ ${b}`, value);
        break;
      }
      case 'service':
        add(serviceLabel(flow), value);
        break;
    }
  }
  return [...totals]
    .map(([label, value]) => ({ label, value }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
}

export interface FlowTotals {
  flows: number;
  bytes: number;
  packets: number;
  agents: number;
}

export function flowTotals(flows: readonly Flow[]): FlowTotals {
  let bytes = 0;
  let packets = 0;
  const agents = new Set<string>();
  for (const flow of flows) {
    bytes += flow.bytes;
    packets += flow.packets;
    agents.add(flow.agent_id);
  }
  return { flows: flows.length, bytes, packets, agents: agents.size };
}

/** The first page and the pages loaded after it, each record once (a refresh may overlap them). */
export function mergeFlowPages(first: readonly Flow[], more: readonly Flow[]): Flow[] {
  const seen = new Set<string>();
  const merged: Flow[] = [];
  for (const flow of [...first, ...more]) {
    if (seen.has(flow.record_id)) continue;
    seen.add(flow.record_id);
    merged.push(flow);
  }
  return merged;
}

const END_REASONS: Record<NonNullable<Flow['end_reason']>, string> = {
  idle: 'idle timeout',
  active: 'active timeout (long flow, exported in parts)',
  fin_rst: 'FIN/RST',
  end_of_capture: 'end of capture',
  evicted: 'evicted (flow table full)',
};

export function endReasonLabel(reason: Flow['end_reason']): string {
  return reason ? END_REASONS[reason] : 'still active';
}

/** A `datetime-local` value ("2026-11-22T14:03") for epoch milliseconds, in local time. */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Epoch milliseconds of a `datetime-local` value (local time); undefined when empty or invalid. */
export function fromDateTimeLocal(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value)) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
