import { afterEach, describe, expect, it, vi } from 'vitest';
import { onStopSignals, SIGNAL_COPY_WINDOW_MS } from '../../../infra/cli/stop-signals.js';

// The handlers are real process listeners; the signals are emitted in process (nothing is killed).

afterEach(() => {
  vi.useRealTimers();
});

describe('onStopSignals', () => {
  it('stops on the first signal, ignores copies that come with it, forces on a later one', () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const remove = onStopSignals({
      stop: (signal) => calls.push(`stop ${signal}`),
      force: (signal) => calls.push(`force ${signal}`),
    });
    try {
      process.emit('SIGINT');
      process.emit('SIGTERM'); // the same Ctrl-C forwarded by npm, or the cgroup's copy
      vi.advanceTimersByTime(SIGNAL_COPY_WINDOW_MS - 1);
      process.emit('SIGINT');
      expect(calls).toEqual(['stop SIGINT']);
      vi.advanceTimersByTime(1);
      process.emit('SIGTERM');
      expect(calls).toEqual(['stop SIGINT', 'force SIGTERM']);
    } finally {
      remove();
    }
    process.emit('SIGTERM');
    expect(calls).toHaveLength(2);
  });
});
