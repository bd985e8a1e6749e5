import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  ASYNC_EXPORT_ABOVE,
  type ExportProgress,
  MAX_DOWNLOAD_PACKETS,
  requestCaptureLink,
} from '../../api/downloads.js';
import { saveLink } from '../../api/save.js';
import type { DownloadLink } from '../../api/types.js';
import { useApi } from '../../app/api-context.js';
import { Field } from '../../components/Field.js';
import { ErrorMessage } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount } from '../../format.js';
import { describeFilters, filtersToApi, type PacketFilters } from './filters.js';

/** "100" → 100; anything but an integer 1–100 000 → the reason. */
export function parseCount(text: string): number | string {
  const value = Number(text.trim());
  if (!text.trim() || !Number.isInteger(value)) return 'Enter a whole number of packets.';
  if (value < 1 || value > MAX_DOWNLOAD_PACKETS) {
    return `Between 1 and ${formatCount(MAX_DOWNLOAD_PACKETS)} packets.`;
  }
  return value;
}

type State =
  | { kind: 'idle' }
  | { kind: 'working'; progress?: ExportProgress }
  | { kind: 'done'; link: DownloadLink }
  | { kind: 'failed'; error: Error };

/** The newest N packets matching the table's filters, as pcap or pcapng, through a presigned URL. */
export function BulkDownload({ filters }: { filters: PacketFilters }) {
  const api = useApi();
  const [countText, setCountText] = useState('100');
  const [format, setFormat] = useState<'pcap' | 'pcapng'>('pcap');
  const [countError, setCountError] = useState<string>();
  const [state, setState] = useState<State>({ kind: 'idle' });
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(), []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const count = parseCount(countText);
    if (typeof count === 'string') {
      setCountError(count);
      return;
    }
    setCountError(undefined);
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setState({ kind: 'working' });
    try {
      const link = await requestCaptureLink(
        api,
        '/packets/download/pcap',
        { count, format, ...filtersToApi(filters, Date.now()) },
        {
          preferAsync: count > ASYNC_EXPORT_ABOVE,
          signal: controller.signal,
          onProgress: (progress) => setState({ kind: 'working', progress }),
        },
      );
      saveLink(link);
      setState({ kind: 'done', link });
    } catch (error) {
      if (!controller.signal.aborted) setState({ kind: 'failed', error: error as Error });
    }
  }

  const working = state.kind === 'working';
  return (
    <section className="panel" aria-labelledby="bulk-title">
      <div className="panel-header">
        <h2 id="bulk-title">Download PCAP</h2>
        <span className="muted">The newest packets matching: {describeFilters(filters)}</span>
      </div>
      <form className="form-row" onSubmit={onSubmit} noValidate aria-labelledby="bulk-title">
        <Field
          label="Packets"
          error={countError}
          hint={`1 to ${formatCount(MAX_DOWNLOAD_PACKETS)}`}
        >
          <input
            type="number"
            inputMode="numeric"
            min={1}
            max={MAX_DOWNLOAD_PACKETS}
            step={1}
            value={countText}
            onChange={(e) => {
              setCountText(e.target.value);
              setCountError(undefined);
            }}
          />
        </Field>
        <Field label="Format" hint="pcapng adds a comment per packet">
          <select value={format} onChange={(e) => setFormat(e.target.value as 'pcap' | 'pcapng')}>
            <option value="pcap">pcap</option>
            <option value="pcapng">pcapng</option>
          </select>
        </Field>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={working}>
            {working ? 'Preparing…' : 'Download'}
          </button>
          {working ? (
            <button
              type="button"
              className="button"
              onClick={() => {
                abort.current?.abort();
                setState({ kind: 'idle' });
              }}
            >
              Cancel
            </button>
          ) : null}
        </div>
      </form>
      <div aria-live="polite" className="download-status">
        {state.kind === 'working' ? (
          <p className="muted">
            {state.progress
              ? `Export ${state.progress.status}${state.progress.packets ? `: ${formatCount(state.progress.packets)} packets so far` : ''}… large exports are built in the background.`
              : 'Building the capture file…'}
          </p>
        ) : null}
        {state.kind === 'done' ? <DownloadDone link={state.link} /> : null}
      </div>
      {state.kind === 'failed' ? (
        <ErrorMessage error={state.error} title="The download failed" />
      ) : null}
    </section>
  );
}

export function DownloadDone({ link }: { link: DownloadLink }) {
  return (
    <p className="download-done">
      Saved <code>{link.filename}</code>: {formatCount(link.packets)} packet
      {link.packets === 1 ? '' : 's'}, {formatBytes(link.bytes)}. Not saved?{' '}
      <a href={link.url} download={link.filename}>
        Download it again
      </a>{' '}
      (link valid until{' '}
      {link.expires_at ? <Time value={Date.parse(link.expires_at)} /> : 'a few minutes from now'}).
    </p>
  );
}
