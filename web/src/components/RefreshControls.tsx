import { useEffect, useState } from 'react';
import { formatRelative, formatTime } from '../format.js';
import type { PollingState } from '../hooks/usePolling.js';

export interface RefreshControlsProps {
  polling: Pick<
    PollingState<unknown>,
    'paused' | 'setPaused' | 'refresh' | 'loading' | 'lastUpdated'
  >;
  intervalMs: number;
}

/** Pause/resume, refresh now, and when the data was last loaded. */
export function RefreshControls({ polling, intervalMs }: RefreshControlsProps) {
  const { paused, setPaused, refresh, loading, lastUpdated } = polling;
  // Re-render every second so "updated 4 s ago" stays true.
  const [, setNow] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setNow((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  const at = lastUpdated ? formatTime(lastUpdated) : undefined;
  return (
    <div className="refresh-controls">
      <span
        className={`live-dot ${paused ? 'is-paused' : loading ? 'is-loading' : 'is-live'}`}
        aria-hidden="true"
      />
      <span className="refresh-status">
        {paused ? 'Paused' : `Every ${intervalMs / 1000} s`}
        {at ? (
          <>
            {' · updated '}
            <time dateTime={at.iso} title={at.title}>
              {formatRelative(lastUpdated!)}
            </time>
          </>
        ) : null}
      </span>
      <button
        type="button"
        className="button"
        aria-pressed={paused}
        onClick={() => setPaused(!paused)}
      >
        {paused ? 'Resume' : 'Pause'}
      </button>
      <button type="button" className="button" onClick={refresh} disabled={loading}>
        {loading ? 'Refreshing…' : 'Refresh now'}
      </button>
    </div>
  );
}
