export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The status a process killed by the signal would have (128 + its number), as shells report it. */
export const FORCED_EXIT_STATUS: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * One Ctrl-C or one `systemctl stop` often reaches a process twice: from the terminal
 * or the cgroup, and again forwarded by `npm start`. Copies that arrive this soon after
 * the first signal are the same request to stop.
 */
export const SIGNAL_COPY_WINDOW_MS = 500;

/**
 * SIGINT/SIGTERM from the moment this is called: the first calls `stop`, copies within
 * SIGNAL_COPY_WINDOW_MS are ignored, and any later one calls `force` (stop now).
 * Returns a function that removes the handlers.
 */
export function onStopSignals(handlers: {
  stop(signal: StopSignal): void;
  force(signal: StopSignal): void;
}): () => void {
  let firstAt: number | undefined;
  const on = (signal: StopSignal) => {
    const now = Date.now();
    if (firstAt === undefined) {
      firstAt = now;
      handlers.stop(signal);
    } else if (now - firstAt >= SIGNAL_COPY_WINDOW_MS) {
      handlers.force(signal);
    }
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
