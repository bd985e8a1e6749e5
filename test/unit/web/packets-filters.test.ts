import { describe, expect, it } from 'vitest';
import {
  describeFilters,
  filtersFromQuery,
  filtersToApi,
  filtersToQuery,
} from '../../../web/src/pages/packets/filters.js';
import { hexDumpText, hexLines, hexToBytes } from '../../../web/src/pages/packets/hexdump.js';

const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);

describe('packet table filters', () => {
  it('reads filters from the address and ignores what is not a filter', () => {
    const f = filtersFromQuery(
      new URLSearchParams(
        'model=gpt-4&workload=code_generation&range=1h&since=2026-01-01T00:00:00Z',
      ),
    );
    expect(f).toEqual({ model: 'gpt-4', workload: 'code_generation', range: '1h' });
    expect(filtersFromQuery(new URLSearchParams('workload=bulk&range=forever'))).toEqual({
      range: 'all',
    });
  });

  it('round-trips a custom range through the address', () => {
    const since = Date.UTC(2026, 0, 5, 10, 0, 0);
    const until = Date.UTC(2026, 0, 5, 11, 30, 0);
    const query = filtersToQuery({ range: 'custom', since, until });
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    expect(filtersFromQuery(params)).toEqual({ range: 'custom', since, until });
  });

  it('turns a relative range into since = now - range for the API', () => {
    expect(filtersToApi({ range: '15m', model: 'claude-3' }, NOW)).toEqual({
      model: 'claude-3',
      since: '2026-01-05T11:45:00.000Z',
    });
    expect(filtersToApi({ range: 'all', workload: 'general' }, NOW)).toEqual({
      workload_type: 'general',
    });
    expect(filtersToApi({ range: 'custom', since: NOW - 60_000, until: NOW }, NOW)).toEqual({
      since: '2026-01-05T11:59:00.000Z',
      until: '2026-01-05T12:00:00.000Z',
    });
  });

  it('describes the filters in words', () => {
    expect(describeFilters({ range: 'all' })).toBe('all packets');
    expect(describeFilters({ range: '1h', model: 'gpt-4', workload: 'general' })).toBe(
      'model gpt-4, workload general, last hour',
    );
  });
});

describe('hex dump', () => {
  it('parses hex and refuses what is not', () => {
    expect([...hexToBytes('00ff10')]).toEqual([0, 255, 16]);
    expect(() => hexToBytes('0g')).toThrow('not a hex string');
    expect(() => hexToBytes('abc')).toThrow('not a hex string');
  });

  it('prints 16 bytes a line with offsets and ASCII, as xxd does', () => {
    const bytes = new TextEncoder().encode('LISP data on 4341, instance 1\n');
    const lines = hexLines(bytes);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.offset).toBe('0000');
    expect(lines[1]!.offset).toBe('0010');
    expect(lines[0]!.ascii).toBe('LISP data on 434');
    expect(lines[1]!.ascii).toBe('1, instance 1.');
    expect(hexDumpText(bytes).split('\n')[0]).toBe(
      '0000  4c 49 53 50 20 64 61 74  61 20 6f 6e 20 34 33 34  LISP data on 434',
    );
  });
});
