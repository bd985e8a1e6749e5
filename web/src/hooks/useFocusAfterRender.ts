import { type RefObject, useCallback, useEffect, useRef, useState } from 'react';

/**
 * A ref and a `focusSoon()` that focuses the element once the render that shows it has
 * committed. Focusing from the handler that set the state (or a requestAnimationFrame there)
 * can run before React renders the element, and then nothing is focused.
 */
export function useFocusAfterRender<T extends HTMLElement>(): [RefObject<T | null>, () => void] {
  const ref = useRef<T>(null);
  const [requests, setRequests] = useState(0);
  useEffect(() => {
    if (requests > 0) ref.current?.focus();
  }, [requests]);
  const focusSoon = useCallback(() => setRequests((n) => n + 1), []);
  return [ref, focusSoon];
}
