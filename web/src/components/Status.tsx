import type { ReactNode } from 'react';
import { ApiRequestError } from '../api/client.js';

/** A wait the user can see (and a screen reader hears). */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** A failure, in the API's own words: its code and message. */
export function ErrorMessage({
  error,
  title = 'Something went wrong',
  children,
}: {
  error: Error;
  title?: string;
  children?: ReactNode;
}) {
  const code = error instanceof ApiRequestError ? error.code : undefined;
  return (
    <div className="status status-error" role="alert">
      <strong>{title}</strong>
      <p>
        {code ? <code className="error-code">{code}</code> : null} {error.message}
      </p>
      {children}
    </div>
  );
}

/** Nothing to show yet, and what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="status status-empty">
      <strong>{title}</strong>
      {children ? <div className="status-hint">{children}</div> : null}
    </div>
  );
}
