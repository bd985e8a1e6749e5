import { useEffect, useRef } from 'react';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount, formatDuration } from '../../format.js';
import {
  endReasonLabel,
  type Flow,
  formatEndpoint,
  protocolName,
  serviceName,
} from './flow-logic.js';

export interface FlowDetailProps {
  flow: Flow;
  onClose(): void;
  onFilterAgent(agentId: string): void;
}

/** Everything one flow record says, both directions apart. */
export function FlowDetail({ flow, onClose, onFilterAgent }: FlowDetailProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus moves when another record opens
  useEffect(() => {
    heading.current?.focus();
    heading.current?.scrollIntoView({ block: 'nearest' });
  }, [flow.record_id]);
  const service =
    serviceName(flow.dst_port, flow.protocol) ?? serviceName(flow.src_port, flow.protocol);
  return (
    <section className="panel flow-detail" aria-labelledby="flow-detail-title">
      <div className="panel-header">
        <h2 id="flow-detail-title" ref={heading} tabIndex={-1}>
          Flow {formatEndpoint(flow.src_ip, flow.src_port, flow.protocol)} →{' '}
          {formatEndpoint(flow.dst_ip, flow.dst_port, flow.protocol)}
        </h2>
        <div className="form-actions">
          <button type="button" className="button" onClick={() => onFilterAgent(flow.agent_id)}>
            Only {flow.agent_id}
          </button>
          <button type="button" className="button" onClick={onClose}>
            Close details
          </button>
        </div>
      </div>
      <dl className="kv flow-kv">
        <dt>Protocol</dt>
        <dd>
          {protocolName(flow.protocol)} ({flow.protocol}), IPv{flow.ip_version}
          {service ? `, ${service}` : ''}
          {flow.vlan_id ? `, VLAN ${flow.vlan_id}` : ''}
        </dd>
        <dt>Forward (source → destination)</dt>
        <dd>
          {formatCount(flow.packets_fwd)} packets, {formatBytes(flow.bytes_fwd)}
        </dd>
        <dt>Reverse (destination → source)</dt>
        <dd>
          {formatCount(flow.packets_rev)} packets, {formatBytes(flow.bytes_rev)}
        </dd>
        <dt>Total</dt>
        <dd>
          {formatCount(flow.packets)} packets, {formatBytes(flow.bytes)} over{' '}
          {formatDuration(flow.duration_sec)}
        </dd>
        <dt>First seen</dt>
        <dd>
          <Time value={flow.first_seen * 1000} ms />
        </dd>
        <dt>Last seen</dt>
        <dd>
          <Time value={flow.last_seen * 1000} ms />
        </dd>
        {flow.protocol === 6 ? (
          <>
            <dt>TCP flags seen</dt>
            <dd className="mono">{flow.tcp_flags || 'none'}</dd>
          </>
        ) : null}
        <dt>State</dt>
        <dd>
          {flow.state}, {endReasonLabel(flow.end_reason)}
        </dd>
        <dt>Agent</dt>
        <dd>
          <a href={`#/agents/${encodeURIComponent(flow.agent_id)}`}>{flow.agent_id}</a>
        </dd>
        <dt>Flow id</dt>
        <dd className="mono">{flow.flow_id}</dd>
        <dt>Record id</dt>
        <dd className="mono">{flow.record_id}</dd>
      </dl>
    </section>
  );
}
