import { type FormEvent, type ReactNode, useEffect, useState } from 'react';
import type { ApiResponse } from '../../api/client.js';
import { awaitJob, requestCaptureLink } from '../../api/downloads.js';
import { saveLink } from '../../api/save.js';
import { useApi } from '../../app/api-context.js';
import { type Column, DataTable } from '../../components/DataTable.js';
import { Field } from '../../components/Field.js';
import { LoadMore } from '../../components/LoadMore.js';
import { EmptyState, ErrorMessage, Loading } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatBytes, formatCount } from '../../format.js';
import { useMorePages } from '../../hooks/useMorePages.js';
import { usePolling } from '../../hooks/usePolling.js';
import {
  describeMissing,
  describeMissingCount,
  listedRange,
  manifestFilename,
  manifestFileText,
  mergeSegments,
  SEGMENTS_PAGE,
  type SegmentPage,
  type SegmentView,
  segmentFilename,
  shortHex,
  toLocalInput,
  type WindowDownloadView,
  type WindowJobView,
  windowQuery,
} from './segment-logic.js';

const REFRESH_MS = 30_000;

function SegmentDownload({ segment }: { segment: SegmentView }) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  async function download() {
    setBusy(true);
    setError(undefined);
    try {
      const link = await requestCaptureLink(
        api,
        `/segments/${encodeURIComponent(segment.segment_id)}/download`,
        {},
      );
      saveLink({ url: link.url, filename: segmentFilename(segment.segment_id) });
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }
  return (
    <>
      <button
        type="button"
        className="button button-small"
        disabled={busy}
        aria-label={`Download segment ${segment.seq}`}
        onClick={download}
      >
        {busy ? 'Preparing…' : 'Download'}
      </button>
      {error ? <ErrorMessage error={error} title={`Segment ${segment.seq}`} /> : null}
    </>
  );
}

const COLUMNS: Column<SegmentView>[] = [
  { key: 'seq', header: 'Seq', align: 'right', render: (s) => formatCount(s.seq) },
  {
    key: 'time',
    header: 'Time range',
    title: 'Local time; UTC in the tooltip',
    render: (s) => (
      <>
        <Time value={s.started_at * 1000} /> – <Time value={s.ended_at * 1000} />
      </>
    ),
  },
  { key: 'packets', header: 'Packets', align: 'right', render: (s) => formatCount(s.packets) },
  { key: 'bytes', header: 'Size', align: 'right', render: (s) => formatBytes(s.bytes) },
  { key: 'cipher', header: 'Cipher', className: 'mono', render: (s) => s.cipher },
  {
    key: 'key',
    header: 'Key id',
    className: 'mono',
    render: (s) => <span title={s.key_id}>{shortHex(s.key_id, 8)}</span>,
  },
  {
    key: 'sha',
    header: 'SHA-256',
    className: 'mono',
    render: (s) => <span title={s.sha256}>{shortHex(s.sha256)}</span>,
  },
  { key: 'download', header: 'File', render: (s) => <SegmentDownload segment={s} /> },
];

/** Saves the signed manifest the API answered, as the file `pcap decrypt --manifest` reads. */
function saveManifest(window: WindowDownloadView) {
  const blob = new Blob([manifestFileText(window)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  saveLink({ url, filename: manifestFilename(window.manifest.window_id) });
  // The click has started the download; the object URL can go once it has been read.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * A prepared window: what it holds, the gaps, and its two downloads. The manifest comes inline
 * from a window built at once (saved from the page), or from S3 for one built by a job.
 */
function WindowReady({
  prepared,
  missing,
  manifest,
}: {
  prepared: Pick<WindowDownloadView, 'url' | 'segments' | 'bytes' | 'expires_at'>;
  missing: string | undefined;
  manifest: ReactNode;
}) {
  return (
    <div className="segment-window-result" role="status">
      <p>
        {formatCount(prepared.segments)} segment{prepared.segments === 1 ? '' : 's'},{' '}
        {formatBytes(prepared.bytes)}; the links expire at{' '}
        <Time value={new Date(prepared.expires_at)} />.
      </p>
      {missing ? (
        <p className="panel-note">Sequence numbers the cloud has no record of: {missing}</p>
      ) : null}
      <p className="form-actions">
        <a className="button button-primary" href={prepared.url} rel="noopener" download>
          Download encrypted window
        </a>
        {manifest}
      </p>
    </div>
  );
}

function WindowDownloadForm({
  agentId,
  range,
}: {
  agentId: string;
  range: { since: number; until: number };
}) {
  const api = useApi();
  const [since, setSince] = useState(() => toLocalInput(range.since));
  const [until, setUntil] = useState(() => toLocalInput(range.until));
  const [touched, setTouched] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<{ since?: string; until?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [result, setResult] = useState<WindowDownloadView>();
  // A window too large for one request is assembled by a job: its state while it runs, then
  // its links.
  const [job, setJob] = useState<WindowJobView>();

  // Follow the listed range until the user edits the form.
  useEffect(() => {
    if (touched) return;
    setSince(toLocalInput(range.since));
    setUntil(toLocalInput(range.until));
  }, [range.since, range.until, touched]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = windowQuery(agentId, since, until);
    if ('errors' in parsed) {
      setFieldErrors(parsed.errors);
      return;
    }
    setFieldErrors({});
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    setJob(undefined);
    try {
      const first = await api.get<WindowDownloadView | WindowJobView>(
        '/segments/download',
        parsed.query,
        { headers: { Accept: 'application/json' } },
      );
      if (first.status === 202) {
        setJob(
          await awaitJob<WindowJobView>(api, first as ApiResponse<WindowJobView>, {
            onProgress: setJob,
          }),
        );
      } else {
        setResult(first.data as WindowDownloadView);
      }
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  const missing = result ? describeMissing(result.manifest.missing_seqs) : undefined;
  return (
    <form className="segment-window" aria-labelledby="segment-window-title" onSubmit={submit}>
      <h3 id="segment-window-title">Download window</h3>
      <p className="panel-note">
        One encrypted object assembled in the cloud from every segment in the window, with its
        signed manifest (decrypt it with{' '}
        <code>wirefleet pcap decrypt --key-file K --manifest M IN -o OUT</code>).
      </p>
      <div className="form-row">
        <Field label="Window from" error={fieldErrors.since}>
          <input
            type="datetime-local"
            value={since}
            onChange={(e) => {
              setTouched(true);
              setSince(e.target.value);
            }}
          />
        </Field>
        <Field label="Window to" error={fieldErrors.until}>
          <input
            type="datetime-local"
            value={until}
            onChange={(e) => {
              setTouched(true);
              setUntil(e.target.value);
            }}
          />
        </Field>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Assembling…' : 'Prepare window'}
          </button>
        </div>
      </div>
      {error ? <ErrorMessage error={error} title="Could not prepare the window" /> : null}
      {busy && job ? (
        <p className="panel-note" role="status">
          A large window: the cloud is assembling it as a job ({job.status}). This page asks again
          until it is done.
        </p>
      ) : null}
      {job?.status === 'done' && job.url && job.manifest_url ? (
        <WindowReady
          prepared={{
            url: job.url,
            segments: job.segments ?? 0,
            bytes: job.bytes ?? 0,
            expires_at: job.expires_at ?? '',
          }}
          missing={describeMissingCount(job.missing_seqs)}
          manifest={
            <a className="button" href={job.manifest_url} rel="noopener" download>
              Save manifest
            </a>
          }
        />
      ) : null}
      {result ? (
        <WindowReady
          prepared={result}
          missing={missing}
          manifest={
            <button type="button" className="button" onClick={() => saveManifest(result)}>
              Save manifest
            </button>
          }
        />
      ) : null}
    </form>
  );
}

/** The agent's recorded evidence segments, oldest first as the API pages them, and the window download. */
export function SegmentsPanel({ agentId }: { agentId: string }) {
  const api = useApi();
  const base = `/agents/${encodeURIComponent(agentId)}/segments`;
  const first = usePolling(
    (signal) =>
      api.get<SegmentPage>(base, { limit: SEGMENTS_PAGE }, { signal }).then((r) => r.data),
    { intervalMs: REFRESH_MS, deps: [api, base] },
  );
  const more = useMorePages(first.data?.next_token, async (token) => {
    const { data } = await api.get<SegmentPage>(base, { limit: SEGMENTS_PAGE, next_token: token });
    return { items: data.segments, next_token: data.next_token };
  });
  const segments = mergeSegments(first.data?.segments ?? [], more.items);
  const { nextToken, loading, error } = more;
  const loadMore = more.load;
  // With nothing listed, the form offers the last hour.
  const [fallback] = useState(() => {
    const now = Math.ceil(Date.now() / 60_000) * 60_000;
    return { since: now - 3_600_000, until: now };
  });
  const range = listedRange(segments) ?? fallback;

  return (
    <section className="panel segments-panel" aria-labelledby="agent-segments-title">
      <div className="panel-header">
        <h2 id="agent-segments-title">Evidence segments</h2>
        {segments.length > 0 ? (
          <span className="muted">{formatCount(segments.length)} shown, oldest first</span>
        ) : null}
      </div>
      {first.error ? (
        <ErrorMessage error={first.error} title="Could not load evidence segments" />
      ) : !first.data ? (
        <Loading label="Loading evidence segments…" />
      ) : segments.length === 0 ? (
        <EmptyState title="No evidence segments">
          <p>
            Enable recording with the <em>Record evidence</em> command above, or on the agent (
            <code>evidence.enabled</code>, or{' '}
            <code>POST /packet_capture/capture/encryption/enable</code>).
          </p>
        </EmptyState>
      ) : (
        <>
          <DataTable
            caption={`Evidence segments of ${agentId}`}
            columns={COLUMNS}
            rows={segments}
            rowKey={(s) => s.segment_id}
          />
          {error ? <ErrorMessage error={error} title="Could not load more segments" /> : null}
          <LoadMore
            nextToken={nextToken}
            loading={loading}
            onLoadMore={loadMore}
            label="Load more segments"
            endLabel="All segments kept are shown"
          />
        </>
      )}
      <WindowDownloadForm agentId={agentId} range={range} />
    </section>
  );
}
