import { useMemo, useSyncExternalStore } from 'react';
import { type ParsedRoute, parseHash } from './route-path.js';

export interface Route extends ParsedRoute {
  /** Goes to `#<path>`; `replace` changes the current history entry (filters, not pages). */
  navigate(path: string, options?: { replace?: boolean }): void;
}

/** replaceState fires no hashchange: this event tells subscribers instead. */
const REPLACED = 'wirefleet:hashreplaced';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  window.addEventListener(REPLACED, onChange);
  return () => {
    window.removeEventListener('hashchange', onChange);
    window.removeEventListener(REPLACED, onChange);
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
