import { useCallback, useState } from 'react';
import { requestCaptureLink } from '../../api/downloads.js';
import { saveLink } from '../../api/save.js';
import {
  type DownloadLink,
  frameSize,
  type Layer,
  type PacketDetailResponse,
} from '../../api/types.js';
import { useApi } from '../../app/api-context.js';
import { ErrorMessage, Loading } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount } from '../../format.js';
import { usePolling } from '../../hooks/usePolling.js';
import { DownloadDone } from './BulkDownload.js';
import { hexLines, hexToBytes } from './hexdump.js';
import { listAddress } from './list-address.js';

interface Loaded {
  detail: PacketDetailResponse;
  visualization: string;
}

const LAYER_TITLES: Record<Layer['name'], string> = {
  ethernet: 'Ethernet II',
  ipv4: 'IPv4',
  ipv6: 'IPv6',
  udp: 'UDP',
  lisp: 'LISP data header',
  payload: 'Payload',
};

/** Which IPv4/UDP this is: the outer (RLOC) pair or the inner (EID) one. */
function layerTitle(layer: Layer, index: number, layers: Layer[]): string {
  const sameBefore = layers.slice(0, index).filter((l) => l.name === layer.name).length;
  const base = LAYER_TITLES[layer.name];
  if (layer.name === 'ipv4' || layer.name === 'udp')
    return `${base} (${sameBefore === 0 ? 'outer, RLOC' : 'inner, EID'})`;
  return base;
}

function layerSummary(layer: Layer): string {
  const f = layer.fields;
  if (layer.name === 'ipv4' || layer.name === 'ipv6') return `${f.src} → ${f.dst}`;
  if (layer.name === 'udp') return `${f.src_port} → ${f.dst_port}`;
  if (layer.name === 'lisp') return `IID ${f.instance_id ?? '–'}, nonce ${f.nonce ?? '–'}`;
  if (layer.name === 'ethernet') return `${f.src ?? ''} → ${f.dst ?? ''}`;
  return '';
}

/** `#/packets/<id>`: what the packet says, its layers, its bytes, its picture and its download. */
export function PacketDetail({ id }: { id: string }) {
  const api = useApi();
  const load = useCallback(
    async (signal: AbortSignal): Promise<Loaded> => {
      const [detail, picture] = await Promise.all([
        api.get<PacketDetailResponse>(`/packets/${encodeURIComponent(id)}`, undefined, { signal }),
        api.post<{ visualization: string }>('/packets/visualize', { packet_id: id }, { signal }),
      ]);
      return { detail: detail.data, visualization: picture.data.visualization };
    },
    [api, id],
  );
  // A stored packet never changes: load once (no refresh interval that matters).
  const state = usePolling(load, { intervalMs: 3_600_000, deps: [api, id] });

  return (
    <section className="page" aria-labelledby="packet-title">
      <p>
        <a href={`#${listAddress()}`}>← All packets</a>
      </p>
      <h1 id="packet-title">
        Packet <span className="mono">{id}</span>
      </h1>
      {state.error ? <ErrorMessage error={state.error} title="Could not load this packet" /> : null}
      {!state.data && !state.error ? <Loading label="Loading the packet…" /> : null}
      {state.data ? <PacketBody id={id} loaded={state.data} /> : null}
    </section>
  );
}

function PacketBody({ id, loaded }: { id: string; loaded: Loaded }) {
  const { packet, layers, frame_hex } = loaded.detail;
  const bytes = hexToBytes(frame_hex);
  const size = frameSize(packet) ?? bytes.length;
  const meta = packet.metadata;
  return (
    <>
      <div className="grid-2">
        <section className="panel" aria-labelledby="summary-title">
          <h2 id="summary-title">Summary</h2>
          <dl className="kv">
            <dt>Time</dt>
            <dd className="mono">
              <Time value={packet.timestamp * 1000} ms />
            </dd>
            <dt>Model</dt>
            <dd>{String(meta.model_name ?? '–')}</dd>
            <dt>Workload</dt>
            <dd>{String(meta.workload_type ?? '–')}</dd>
            <dt>EID</dt>
            <dd className="mono">
              {packet.inner_header.src_ip}:{packet.inner_header.src_port} →{' '}
              {packet.inner_header.dst_ip}:{packet.inner_header.dst_port}
            </dd>
            <dt>RLOC</dt>
            <dd className="mono">
              {packet.outer_header.src_ip}:{packet.outer_header.src_port} →{' '}
              {packet.outer_header.dst_ip}:{packet.outer_header.dst_port}
            </dd>
            <dt>Instance ID</dt>
            <dd className="mono">{packet.instance_id}</dd>
            <dt>LISP flags</dt>
            <dd className="mono">
              {packet.lisp_header.flags} ({packet.lisp_header.flag_names}), nonce{' '}
              {packet.lisp_header.nonce}, LSB {packet.lisp_header.lsb}
            </dd>
            <dt>Size</dt>
            <dd>
              {formatCount(size)} bytes on the wire{size >= 1024 ? ` (${formatBytes(size)})` : ''}
            </dd>
          </dl>
        </section>
        <SingleDownload id={id} />
      </div>

      <section className="panel" aria-labelledby="layers-title">
        <h2 id="layers-title">Decoded layers</h2>
        <div className="layer-list">
          {layers.map((layer, i) => (
            <details
              className="layer"
              key={`${layer.name}-${layer.offset}`}
              open={layer.name !== 'ethernet'}
            >
              <summary>
                {layerTitle(layer, i, layers)}
                <span className="mono">{layerSummary(layer)}</span>
                <span className="mono">
                  bytes {layer.offset}–{layer.offset + layer.length - 1} ({layer.length})
                </span>
              </summary>
              <dl>
                {Object.entries(layer.fields).map(([name, value]) => (
                  <div key={name} className="layer-field">
                    <dt>{name}</dt>
                    <dd>{String(value)}</dd>
                  </div>
                ))}
              </dl>
            </details>
          ))}
        </div>
      </section>

      <section className="panel" aria-labelledby="viz-title">
        <h2 id="viz-title">Visualization</h2>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: wide preformatted text must scroll by keyboard */}
        <section className="scroll-box" tabIndex={0} aria-label="ASCII visualization of the packet">
          <pre className="ascii-art">{loaded.visualization}</pre>
        </section>
      </section>

      <section className="panel" aria-labelledby="hex-title">
        <h2 id="hex-title">Bytes</h2>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: wide preformatted text must scroll by keyboard */}
        <section className="scroll-box" tabIndex={0} aria-label={`Hex dump, ${bytes.length} bytes`}>
          <pre className="hexdump">
            {hexLines(bytes).map((line) => (
              <span key={line.offset} className="hex-line">
                <span className="hex-offset">{line.offset}</span>
                {'  '}
                {line.hex.slice(0, 8).join(' ').padEnd(23)}
                {'  '}
                {line.hex.slice(8).join(' ').padEnd(23)}
                {'  '}
                <span className="hex-ascii">{line.ascii}</span>
                {'\n'}
              </span>
            ))}
          </pre>
        </section>
      </section>

      <section className="panel" aria-labelledby="meta-title">
        <h2 id="meta-title">Routing metadata (payload)</h2>
        <dl className="kv">
          {Object.entries(meta).map(([key, value]) => (
            <div key={key} className="kv-row">
              <dt>{key}</dt>
              <dd className={typeof value === 'string' && value.length > 60 ? '' : 'mono'}>
                {String(value)}
              </dd>
            </div>
          ))}
        </dl>
      </section>
    </>
  );
}

function SingleDownload({ id }: { id: string }) {
  const api = useApi();
  const [busy, setBusy] = useState<'pcap' | 'pcapng'>();
  const [done, setDone] = useState<DownloadLink>();
  const [error, setError] = useState<Error>();
  const download = async (format: 'pcap' | 'pcapng') => {
    setBusy(format);
    setError(undefined);
    try {
      const link = await requestCaptureLink(
        api,
        `/packets/${encodeURIComponent(id)}/download/pcap`,
        { format },
      );
      saveLink(link);
      setDone(link);
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <section className="panel" aria-labelledby="single-title">
      <h2 id="single-title">Download this packet</h2>
      <p className="muted">
        One packet in a capture file for Wireshark or tshark (dissects as <code>lisp-data</code> on
        UDP 4341).
      </p>
      <div className="form-actions">
        <button
          type="button"
          className="button button-primary"
          disabled={busy !== undefined}
          onClick={() => download('pcap')}
        >
          {busy === 'pcap' ? 'Preparing…' : 'Download PCAP'}
        </button>
        <button
          type="button"
          className="button"
          disabled={busy !== undefined}
          onClick={() => download('pcapng')}
        >
          {busy === 'pcapng' ? 'Preparing…' : 'Download pcapng'}
        </button>
      </div>
      <div aria-live="polite">{done ? <DownloadDone link={done} /> : null}</div>
      {error ? <ErrorMessage error={error} title="The download failed" /> : null}
    </section>
  );
}
