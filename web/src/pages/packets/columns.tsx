import { frameSize, type PacketRecord } from '../../api/types.js';
import type { Column } from '../../components/DataTable.js';
import { Time } from '../../components/Time.js';
import { formatBytes } from '../../format.js';

const arrow = (src: string, dst: string) => (
  <>
    {src} <span aria-hidden="true">→</span>
    <span className="visually-hidden">to</span> {dst}
  </>
);

export const PACKET_COLUMNS: Column<PacketRecord>[] = [
  {
    key: 'id',
    header: 'ID',
    className: 'mono',
    render: (p) => (
      <a href={`#/packets/${p.packet_id}`} tabIndex={-1}>
        {p.packet_id}
      </a>
    ),
  },
  {
    key: 'time',
    header: 'Time',
    title: 'Local time; hover for UTC',
    className: 'mono',
    render: (p) => <Time value={p.timestamp * 1000} ms />,
  },
  { key: 'model', header: 'Model', render: (p) => String(p.metadata.model_name ?? '–') },
  {
    key: 'workload',
    header: 'Workload',
    render: (p) => <span className="badge">{String(p.metadata.workload_type ?? '–')}</span>,
  },
  {
    key: 'eid',
    header: 'EID src → dst',
    title: 'Inner IPv4: the source EID and the model’s EID',
    className: 'mono',
    render: (p) => arrow(p.inner_header.src_ip, p.inner_header.dst_ip),
  },
  {
    key: 'rloc',
    header: 'RLOC src → dst',
    title: 'Outer IPv4: the ITR’s locator and the chosen RLOC',
    className: 'mono',
    render: (p) => arrow(p.outer_header.src_ip, p.outer_header.dst_ip),
  },
  {
    key: 'iid',
    header: 'IID',
    title: 'LISP instance ID (the tenant’s)',
    align: 'right',
    className: 'mono',
    render: (p) => p.instance_id,
  },
  {
    key: 'size',
    header: 'Size',
    title: 'Frame size on the wire (Ethernet to payload)',
    align: 'right',
    render: (p) => {
      const size = frameSize(p);
      return size === undefined ? '–' : formatBytes(size);
    },
  },
];
