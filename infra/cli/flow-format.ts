import type { FlowRecord } from '../../native/index.js';

export const FLOW_FORMATS = ['ndjson', 'csv', 'table'] as const;
export type FlowFormat = (typeof FLOW_FORMATS)[number];

const COLUMNS: (keyof FlowRecord)[] = [
  'flow_id',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'protocol',
  'vlan_id',
  'packets',
  'bytes',
  'packets_fwd',
  'packets_rev',
  'bytes_fwd',
  'bytes_rev',
  'first_seen',
  'last_seen',
  'duration_sec',
  'tcp_flags',
  'state',
  'end_reason',
];

const TABLE_WIDTHS: Partial<Record<keyof FlowRecord, number>> = {
  src_ip: 39,
  dst_ip: 39,
  src_port: 5,
  dst_port: 5,
  protocol: 5,
  packets: 10,
  bytes: 12,
  duration_sec: 10,
  tcp_flags: 20,
  state: 7,
  end_reason: 14,
};

const csvCell = (value: unknown) => {
  const text = value === null ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** Renders batches of flows as text in one of the CLI formats; `header` once, then rows. */
export function flowFormatter(format: FlowFormat): {
  header: string;
  rows(flows: FlowRecord[]): string;
} {
  switch (format) {
    case 'ndjson':
      return { header: '', rows: (flows) => flows.map((f) => `${JSON.stringify(f)}\n`).join('') };
    case 'csv':
      return {
        header: `${COLUMNS.join(',')}\n`,
        rows: (flows) =>
          flows.map((f) => `${COLUMNS.map((c) => csvCell(f[c])).join(',')}\n`).join(''),
      };
    case 'table': {
      const columns = Object.keys(TABLE_WIDTHS) as (keyof FlowRecord)[];
      const line = (cells: string[]) =>
        `${cells.map((cell, i) => cell.padEnd(TABLE_WIDTHS[columns[i]!]!)).join(' ')}`.trimEnd();
      const show = (f: FlowRecord, c: keyof FlowRecord) =>
        c === 'duration_sec' ? f.duration_sec.toFixed(3) : String(f[c] ?? '-');
      return {
        header: `${line(columns)}\n`,
        rows: (flows) => flows.map((f) => `${line(columns.map((c) => show(f, c)))}\n`).join(''),
      };
    }
  }
}
