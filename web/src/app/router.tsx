import { useMemo, useSyncExternalStore } from 'react';
import { type ParsedRoute, parseHash } from './route-path.js';

export interface Route extends ParsedRoute {
  /** Goes to `#<path>`; `replace` changes the current history entry (filters, not pages). */
  navigate(path: string, options?: { replace?: boolean }): void;
}

/** replaceState fires no hashchange: this event tells subscribers instead. */
const REPLACED = 'wirefleet:hashreplaced';

/**
 * One window listener for every useRoute(): it tells all subscribers in one
 * loop. With a listener each, the browser runs a microtask checkpoint between
 * listeners, so React re-rendered a page with the new hash before the shell had
 * swapped that page out (Packets briefly asked for packet "local-agent").
 */
const subscribers = new Set<() => void>();

function notifyAll(): void {
  for (const onChange of [...subscribers]) onChange();
}

function subscribe(onChange: () => void): () => void {
  if (subscribers.size === 0) {
    window.addEventListener('hashchange', notifyAll);
    window.addEventListener(REPLACED, notifyAll);
  }
  subscribers.add(onChange);
  return () => {
    subscribers.delete(onChange);
    if (subscribers.size === 0) {
      window.removeEventListener('hashchange', notifyAll);
      window.removeEventListener(REPLACED, notifyAll);
    }
  };
}

const currentHash = () => window.location.hash;

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const hash = `#${path.startsWith('/') ? path : `/${path}`}`;
  if (hash === window.location.hash) return;
  if (options.replace) {
    window.history.replaceState(window.history.state, '', hash);
    window.dispatchEvent(new Event(REPLACED));
  } else {
    window.location.hash = hash;
  }
}

/** The current hash route; re-renders on every change. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, currentHash, currentHash);
  return useMemo(() => ({ ...parseHash(hash), navigate }), [hash]);
}
