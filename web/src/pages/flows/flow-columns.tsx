import type { Column } from '../../components/DataTable.js';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount, formatDuration } from '../../format.js';
import {
  endReasonLabel,
  type Flow,
  type FlowSort,
  formatEndpoint,
  protocolName,
  serviceName,
} from './flow-logic.js';

function SortedHeader({ label, sorted }: { label: string; sorted: boolean }) {
  if (!sorted) return <>{label}</>;
  return (
    <>
      {label}{' '}
      <span aria-hidden="true" className="sort-mark">
        ▼
      </span>
      <span className="visually-hidden">(ranked by this, highest first)</span>
    </>
  );
}

/** The table's columns: the 5-tuple, volume, time and who saw it. */
export function flowColumns(sort: FlowSort): Column<Flow>[] {
  return [
    {
      key: 'src',
      header: 'Source',
      className: 'mono',
      render: (f) => formatEndpoint(f.src_ip, f.src_port, f.protocol),
    },
    {
      key: 'dst',
      header: 'Destination',
      className: 'mono',
      render: (f) => {
        const service = serviceName(f.dst_port, f.protocol);
        return (
          <>
            {formatEndpoint(f.dst_ip, f.dst_port, f.protocol)}
            {service ? <span className="cell-hint"> {service}</span> : null}
          </>
        );
      },
    },
    {
      key: 'proto',
      header: 'Proto',
      title: 'IP protocol',
      render: (f) => (
        <span title={`IP protocol ${f.protocol}${f.vlan_id ? `, VLAN ${f.vlan_id}` : ''}`}>
          {protocolName(f.protocol)}
          {f.vlan_id ? <span className="cell-hint"> vlan {f.vlan_id}</span> : null}
        </span>
      ),
    },
    {
      key: 'bytes',
      header: <SortedHeader label="Bytes" sorted={sort === 'bytes'} />,
      align: 'right',
      title: 'Both directions; the tooltip splits forward and reverse',
      render: (f) => (
        <span title={`→ ${formatBytes(f.bytes_fwd)} · ← ${formatBytes(f.bytes_rev)}`}>
          {formatBytes(f.bytes)}
        </span>
      ),
    },
    {
      key: 'packets',
      header: <SortedHeader label="Packets" sorted={sort === 'packets'} />,
      align: 'right',
      title: 'Both directions; the tooltip splits forward and reverse',
      render: (f) => (
        <span title={`→ ${formatCount(f.packets_fwd)} · ← ${formatCount(f.packets_rev)}`}>
          {formatCount(f.packets)}
        </span>
      ),
    },
    {
      key: 'duration',
      header: <SortedHeader label="Duration" sorted={sort === 'duration'} />,
      align: 'right',
      render: (f) => formatDuration(f.duration_sec),
    },
    {
      key: 'first',
      header: 'First seen',
      render: (f) => <Time value={f.first_seen * 1000} />,
    },
    {
      key: 'last',
      header: <SortedHeader label="Last seen" sorted={sort === 'time'} />,
      render: (f) => <Time value={f.last_seen * 1000} />,
    },
    {
      key: 'flags',
      header: 'TCP flags',
      className: 'mono',
      render: (f) => (f.protocol === 6 ? f.tcp_flags || '–' : ''),
    },
    {
      key: 'state',
      header: 'State',
      render: (f) => <span title={`Ended: ${endReasonLabel(f.end_reason)}`}>{f.state}</span>,
    },
    {
      key: 'agent',
      header: 'Agent',
      render: (f) => (
        <a href={`#/agents/${encodeURIComponent(f.agent_id)}`} onClick={(e) => e.stopPropagation()}>
          {f.agent_id}
        </a>
      ),
    },
  ];
}
