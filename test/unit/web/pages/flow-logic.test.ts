import { describe, expect, it } from 'vitest';
import {
  customRangeProblem,
  DEFAULT_FILTERS,
  type Flow,
  flowFiltersToQuery,
  flowsApiQuery,
  flowTotals,
  formatEndpoint,
  fromDateTimeLocal,
  isRanking,
  mergeFlowPages,
  parseFlowFilters,
  protocolName,
  serviceName,
  talkerMetric,
  toDateTimeLocal,
  topTalkers,
} from '../../../../web/src/pages/flows/flow-logic.js';

function flow(overrides: Partial<Flow>): Flow {
  return {
    flow_id: 'f',
    record_id: '0'.repeat(32),
    agent_id: 'edge-1',
    ip_version: 4,
    src_ip: '10.0.0.1',
    dst_ip: '10.0.0.2',
    src_port: 40000,
    dst_port: 443,
    protocol: 6,
    vlan_id: 0,
    packets: 1,
    bytes: 100,
    packets_fwd: 1,
    packets_rev: 0,
    bytes_fwd: 100,
    bytes_rev: 0,
    first_seen: 1000,
    last_seen: 1001,
    duration_sec: 1,
    tcp_flags: 'SYN',
    state: 'CLOSED',
    end_reason: 'fin_rst',
    ...overrides,
  };
}

describe('flow filters in the address bar', () => {
  it('round-trips every filter through the query string', () => {
    const filters = {
      ...DEFAULT_FILTERS,
      sort: 'time' as const,
      agent: 'edge-1',
      minPackets: 5,
      range: 'custom' as const,
      sinceMs: 1_700_000_000_000,
      untilMs: 1_700_000_600_000,
      limit: 250,
      group: 'pair' as const,
    };
    const query = flowFiltersToQuery(filters);
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    expect(parseFlowFilters(params)).toEqual(filters);
  });

  it('leaves the defaults out of the address', () => {
    expect(Object.values(flowFiltersToQuery(DEFAULT_FILTERS)).filter(Boolean)).toEqual([]);
  });

  it('falls back to the defaults for values the API would refuse', () => {
    const parsed = parseFlowFilters(
      new URLSearchParams('sort=rtt&agent=Edge_1&min=-3&limit=5000&range=2y&group=asn'),
    );
    expect(parsed).toEqual(DEFAULT_FILTERS);
  });

  it('keeps custom bounds only with the custom range', () => {
    const parsed = parseFlowFilters(new URLSearchParams('range=1h&since=5&until=6'));
    expect(parsed.sinceMs).toBeUndefined();
    expect(parsed.untilMs).toBeUndefined();
  });
});

describe('the /flows query', () => {
  const now = 1_800_000_000_000;

  it('names the ranking, limit, agent and minimum packets as the API takes them', () => {
    expect(
      flowsApiQuery({ ...DEFAULT_FILTERS, sort: 'packets', agent: 'edge-1', minPackets: 3 }, now),
    ).toEqual({ sort_by: 'packets', limit: 100, agent_id: 'edge-1', min_packets: 3 });
  });

  it('turns a relative range into since, in epoch seconds, sliding with the clock', () => {
    expect(flowsApiQuery({ ...DEFAULT_FILTERS, range: '1h' }, now).since).toBe(
      1_800_000_000 - 3600,
    );
    expect(flowsApiQuery({ ...DEFAULT_FILTERS, range: '1h' }, now + 10_000).since).toBe(
      1_800_000_010 - 3600,
    );
    expect(flowsApiQuery(DEFAULT_FILTERS, now).since).toBeUndefined();
  });

  it('sends a custom range as whole seconds that include both ends', () => {
    const q = flowsApiQuery(
      { ...DEFAULT_FILTERS, range: 'custom', sinceMs: 1_000_500, untilMs: 2_000_500 },
      now,
    );
    expect(q.since).toBe(1000);
    expect(q.until).toBe(2001);
  });

  it('names a custom range that ends before it starts', () => {
    expect(
      customRangeProblem({ ...DEFAULT_FILTERS, range: 'custom', sinceMs: 2, untilMs: 1 }),
    ).toMatch(/after/);
    expect(
      customRangeProblem({ ...DEFAULT_FILTERS, range: 'custom', sinceMs: 1, untilMs: 2 }),
    ).toBeUndefined();
  });

  it('treats every sort but time as a ranking', () => {
    expect(isRanking('bytes')).toBe(true);
    expect(isRanking('duration')).toBe(true);
    expect(isRanking('time')).toBe(false);
    expect(talkerMetric('packets')).toBe('packets');
    expect(talkerMetric('duration')).toBe('bytes');
  });
});

describe('flow cells', () => {
  it('names protocols and well-known services, ports only where they exist', () => {
    expect(protocolName(6)).toBe('TCP');
    expect(protocolName(58)).toBe('ICMPv6');
    expect(protocolName(253)).toBe('proto 253');
    expect(serviceName(4341, 17)).toBe('lisp-data');
    expect(serviceName(443, 1)).toBeUndefined();
    expect(formatEndpoint('10.0.0.1', 443, 6)).toBe('10.0.0.1:443');
    expect(formatEndpoint('2001:db8::1', 53, 17)).toBe('[2001:db8::1]:53');
    expect(formatEndpoint('10.0.0.1', 0, 1)).toBe('10.0.0.1');
  });

  it('converts datetime-local values both ways in local time', () => {
    const ms = fromDateTimeLocal('2026-03-04T05:06');
    expect(ms).toBe(new Date(2026, 2, 4, 5, 6).getTime());
    expect(toDateTimeLocal(ms!)).toBe('2026-03-04T05:06');
    expect(fromDateTimeLocal('')).toBeUndefined();
    expect(fromDateTimeLocal('yesterday')).toBeUndefined();
  });
});

describe('top talkers', () => {
  const flows = [
    flow({ src_ip: '10.1.0.1', dst_ip: '10.2.0.10', bytes: 300, packets: 3 }),
    flow({ src_ip: '10.1.0.2', dst_ip: '10.2.0.10', bytes: 200, packets: 9 }),
    flow({
      src_ip: '10.2.0.10',
      dst_ip: '10.1.0.1',
      bytes: 50,
      packets: 1,
      protocol: 17,
      src_port: 53,
      dst_port: 40001,
    }),
  ];

  it('counts a flow for both of its hosts', () => {
    expect(topTalkers(flows, 'host', 'bytes')).toEqual([
      { label: '10.2.0.10', value: 550 },
      { label: '10.1.0.1', value: 350 },
      { label: '10.1.0.2', value: 200 },
    ]);
  });

  it('sums by source, destination, or conversation regardless of direction', () => {
    expect(topTalkers(flows, 'src', 'packets')[0]).toEqual({ label: '10.1.0.2', value: 9 });
    expect(topTalkers(flows, 'dst', 'bytes')[0]).toEqual({ label: '10.2.0.10', value: 500 });
    expect(topTalkers(flows, 'pair', 'bytes')).toEqual([
      { label: '10.1.0.1 ↔ 10.2.0.10', value: 350 },
      { label: '10.1.0.2 ↔ 10.2.0.10', value: 200 },
    ]);
  });

  it('groups services by the well-known port of either end', () => {
    expect(topTalkers(flows, 'service', 'bytes')).toEqual([
      { label: 'TCP/443 (https)', value: 500 },
      { label: 'UDP/53 (dns)', value: 50 },
    ]);
  });
});

describe('pages and totals', () => {
  it('shows each record once when a refreshed first page overlaps the pages after it', () => {
    const a = flow({ record_id: 'a'.repeat(32) });
    const b = flow({ record_id: 'b'.repeat(32) });
    const c = flow({ record_id: 'c'.repeat(32) });
    expect(mergeFlowPages([a, b], [b, c]).map((f) => f.record_id[0])).toEqual(['a', 'b', 'c']);
  });

  it('sums bytes and packets and counts agents', () => {
    expect(
      flowTotals([
        flow({ bytes: 10, packets: 1 }),
        flow({ bytes: 5, packets: 2, agent_id: 'edge-2' }),
      ]),
    ).toEqual({ flows: 2, bytes: 15, packets: 3, agents: 2 });
  });
});
