import { forwardRef } from 'react';
import {
  type ApiIssue,
  describePath,
  type FieldErrors,
  type MappingsForm,
} from './mappings-logic.js';

/** Focuses the control (or error line) at a dotted path. */
function focusPath(path: string) {
  const target = document.querySelector<HTMLElement>(`[data-path="${CSS.escape(path)}"]`);
  if (!target) return;
  target.scrollIntoView({ block: 'center' });
  target.focus();
}

export interface ErrorSummaryProps {
  title: string;
  byPath: FieldErrors;
  general: readonly ApiIssue[];
  form: MappingsForm;
}

/**
 * Every problem in one list at the top, each a link to its field, which shows
 * the same message beside it.
 */
export const ErrorSummary = forwardRef<HTMLDivElement, ErrorSummaryProps>(function ErrorSummary(
  { title, byPath, general, form },
  ref,
) {
  const entries = Object.entries(byPath);
  return (
    <div className="status status-error error-summary" role="alert" tabIndex={-1} ref={ref}>
      <strong>{title}</strong>
      <ul>
        {general.map((issue) => (
          <li key={`general:${issue.path}:${issue.message}`}>
            {issue.path ? <code>{issue.path}</code> : null} {issue.message}
          </li>
        ))}
        {entries.map(([path, message]) => (
          <li key={path}>
            <button type="button" className="link-button" onClick={() => focusPath(path)}>
              {describePath(path, form)}
            </button>
            : {message}
          </li>
        ))}
      </ul>
    </div>
  );
});
