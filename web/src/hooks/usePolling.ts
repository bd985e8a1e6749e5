import { useCallback, useEffect, useRef, useState } from 'react';
import { isAbortError } from '../api/client.js';

export interface PollingOptions {
  intervalMs: number;
  /** A change starts over: the data is dropped and loaded again at once. */
  deps: readonly unknown[];
}

export interface PollingState<T> {
  data?: T;
  error?: Error;
  /** A load is in flight (the first one, or a refresh). */
  loading: boolean;
  paused: boolean;
  setPaused(paused: boolean): void;
  /** Load now (also while paused). */
  refresh(): void;
  lastUpdated?: Date;
}

interface Snapshot<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  lastUpdated?: Date;
  /** Counts finished loads, so the timer restarts after each one. */
  settled: number;
}

const sameDeps = (a: readonly unknown[], b: readonly unknown[]) =>
  a.length === b.length && a.every((value, i) => Object.is(value, b[i]));

function useDocumentHidden(): boolean {
  const [hidden, setHidden] = useState(() => document.hidden);
  useEffect(() => {
    const onChange = () => setHidden(document.hidden);
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);
  return hidden;
}

/**
 * Loads now, then again `intervalMs` after each load finishes, until paused or
 * the tab is hidden (a visible tab again loads at once). A failed load keeps
 * the last data and shows the error; the next success clears it.
 */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  options: PollingOptions,
): PollingState<T> {
  const { intervalMs, deps } = options;
  const [snapshot, setSnapshot] = useState<Snapshot<T>>({ loading: true, settled: 0 });
  const [paused, setPaused] = useState(false);
  const [tick, setTick] = useState(0);
  const hidden = useDocumentHidden();
  const loadRef = useRef(load);
  loadRef.current = load;
  const depsRef = useRef(deps);
  if (!sameDeps(depsRef.current, deps)) depsRef.current = deps;
  const stableDeps = depsRef.current;

  // biome-ignore lint/correctness/useExhaustiveDependencies: stableDeps and tick are the triggers
  useEffect(() => {
    const controller = new AbortController();
    setSnapshot((s) => ({ ...s, loading: true }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (controller.signal.aborted) return;
        setSnapshot((s) => ({
          data,
          loading: false,
          lastUpdated: new Date(),
          settled: s.settled + 1,
        }));
      },
      (error: unknown) => {
        if (controller.signal.aborted || isAbortError(error)) return;
        const failure = error instanceof Error ? error : new Error(String(error));
        setSnapshot((s) => ({ ...s, error: failure, loading: false, settled: s.settled + 1 }));
      },
    );
    return () => controller.abort();
  }, [stableDeps, tick]);

  // New deps: what was shown belongs to another query.
  const shownDeps = useRef(stableDeps);
  useEffect(() => {
    if (shownDeps.current === stableDeps) return;
    shownDeps.current = stableDeps;
    setSnapshot((s) => ({ loading: true, settled: s.settled }));
  }, [stableDeps]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: each finished load (settled) restarts the timer
  useEffect(() => {
    if (paused || hidden || snapshot.loading) return;
    const timer = setTimeout(() => setTick((t) => t + 1), intervalMs);
    return () => clearTimeout(timer);
  }, [paused, hidden, intervalMs, snapshot.loading, snapshot.settled]);

  // Back from a hidden tab: the data is old, load now.
  const wasHidden = useRef(hidden);
  useEffect(() => {
    if (wasHidden.current && !hidden) setTick((t) => t + 1);
    wasHidden.current = hidden;
  }, [hidden]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return {
    ...(snapshot.data !== undefined ? { data: snapshot.data } : {}),
    ...(snapshot.error ? { error: snapshot.error } : {}),
    loading: snapshot.loading,
    paused,
    setPaused,
    refresh,
    ...(snapshot.lastUpdated ? { lastUpdated: snapshot.lastUpdated } : {}),
  };
}
