import './mappings.css';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiRequestError } from '../../api/client.js';
import { useApi } from '../../app/api-context.js';
import { ErrorMessage, Loading } from '../../components/Status.js';
import { Time } from '../../components/Time.js';
import { formatRelative, formatTime } from '../../format.js';
import { useFocusAfterRender } from '../../hooks/useFocusAfterRender.js';
import { ErrorSummary } from './ErrorSummary.js';
import type { EditorProps } from './editor.js';
import { ModelsSection } from './ModelsSection.js';
import {
  type ApiIssue,
  type FieldErrors,
  fromForm,
  isDirty,
  type MappingsForm,
  type MappingsResponse,
  parseApiIssues,
  placeIssues,
  toForm,
} from './mappings-logic.js';
import { PrefixesSection } from './PrefixesSection.js';
import { SourceLocatorsSection } from './SourceLocatorsSection.js';

interface Problems {
  title: string;
  byPath: FieldErrors;
  general: ApiIssue[];
}

/** Drops the errors at `path` and below it: they described what was there before the edit. */
function withoutErrorsAt(errors: FieldErrors, path: string): FieldErrors {
  return Object.fromEntries(
    Object.entries(errors).filter(([p]) => p !== path && !p.startsWith(`${path}.`)),
  );
}

/** The tenant's catalogue, EID prefixes and source locators: read, edit, and save (PUT). */
export function MappingsPage() {
  const api = useApi();
  const [saved, setSaved] = useState<MappingsResponse>();
  const [form, setForm] = useState<MappingsForm>();
  const [loadError, setLoadError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<Error>();
  const [problems, setProblems] = useState<Problems>();
  const [notice, setNotice] = useState<string>();
  const summaryRef = useRef<HTMLDivElement>(null);
  const [noticeRef, focusNotice] = useFocusAfterRender<HTMLDivElement>();

  const load = useCallback(
    async (signal?: AbortSignal) => {
      setLoading(true);
      setLoadError(undefined);
      try {
        const { data } = await api.get<MappingsResponse>(
          '/mappings',
          undefined,
          signal ? { signal } : {},
        );
        setSaved(data);
        setForm(toForm(data));
        setProblems(undefined);
        setSaveError(undefined);
      } catch (error) {
        if ((error as Error).name === 'AbortError') return;
        setLoadError(error as Error);
      } finally {
        if (!signal?.aborted) setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const dirty = form && saved ? isDirty(form, saved) : false;

  // Leaving the page with unsaved edits asks first (a tab close or reload).
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  // A refused save moves the focus to its list of problems (not each edit that shortens it).
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (refusals > 0) summaryRef.current?.focus();
  }, [refusals]);

  const update = useCallback<EditorProps['update']>((change, path) => {
    setForm((current) => {
      if (!current) return current;
      const next = structuredClone(current);
      change(next);
      return next;
    });
    setNotice(undefined);
    if (path) {
      setProblems((current) => {
        if (!current) return current;
        const byPath = withoutErrorsAt(current.byPath, path);
        return Object.keys(byPath).length === 0 && current.general.length === 0
          ? undefined
          : { ...current, byPath };
      });
    }
  }, []);

  async function save() {
    if (!form) return;
    setNotice(undefined);
    setSaveError(undefined);
    const built = fromForm(form);
    if (!built.ok) {
      setProblems({ title: 'Fix these fields before saving', byPath: built.errors, general: [] });
      setRefusals((n) => n + 1);
      return;
    }
    setSaving(true);
    try {
      const { data } = await api.put<MappingsResponse>('/mappings', built.document);
      setSaved(data);
      setForm(toForm(data));
      setProblems(undefined);
      const at = data.updated_at ? formatTime(Date.parse(data.updated_at)).text : 'just now';
      setNotice(`Saved at ${at}. New routing decisions use these mappings.`);
      focusNotice();
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 400) {
        const placed = placeIssues(parseApiIssues(error.message), form);
        setProblems({
          title: `The API refused the mappings (${error.code}): nothing was saved`,
          ...placed,
        });
        setRefusals((n) => n + 1);
      } else {
        setSaveError(error as Error);
      }
    } finally {
      setSaving(false);
    }
  }

  function discard() {
    if (!saved) return;
    setForm(toForm(saved));
    setProblems(undefined);
    setSaveError(undefined);
    setNotice(undefined);
  }

  const actions = (where: string) => (
    <div className="form-actions mapping-actions">
      <button
        type="submit"
        className="button button-primary"
        disabled={saving || !form}
        aria-describedby={`mappings-state-${where}`}
      >
        {saving ? 'Saving…' : 'Save mappings'}
      </button>
      <button type="button" className="button" onClick={discard} disabled={!dirty || saving}>
        Discard changes
      </button>
      <span id={`mappings-state-${where}`} className={dirty ? 'unsaved' : 'muted'}>
        {dirty ? 'Unsaved changes' : 'No unsaved changes'}
      </span>
    </div>
  );

  return (
    <section className="page mappings-page" aria-labelledby="mappings-title">
      <header className="page-header">
        <div>
          <h1 id="mappings-title">Mappings</h1>
          <p>
            The model catalogue, the EID-to-RLOC map-cache and this site's source locators that
            routing uses.
          </p>
        </div>
        <button
          type="button"
          className="button"
          onClick={() => void load()}
          disabled={loading || saving}
        >
          {loading && saved ? 'Reloading…' : 'Reload'}
        </button>
      </header>

      {loadError ? (
        <ErrorMessage error={loadError} title="Could not load the mappings">
          <p>
            <button type="button" className="button" onClick={() => void load()}>
              Try again
            </button>
          </p>
        </ErrorMessage>
      ) : null}

      {!form || !saved ? (
        loadError ? null : (
          <Loading label="Loading mappings…" />
        )
      ) : (
        <form
          className="mappings-form"
          aria-label="Mappings editor"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <div className="panel mapping-meta">
            <dl className="kv">
              <dt>LISP instance ID</dt>
              <dd className="mono">{saved.instance_id}</dd>
              <dt>Last saved</dt>
              <dd>
                {saved.updated_at === null ? (
                  'never: this tenant uses the built-in default'
                ) : (
                  <>
                    <Time value={Date.parse(saved.updated_at)} /> (
                    {formatRelative(Date.parse(saved.updated_at))})
                  </>
                )}
              </dd>
            </dl>
            {actions('top')}
          </div>

          {notice ? (
            <div className="status status-ok" role="status" tabIndex={-1} ref={noticeRef}>
              {notice}
            </div>
          ) : null}
          {saveError ? <ErrorMessage error={saveError} title="Nothing was saved" /> : null}
          {problems ? (
            <ErrorSummary
              ref={summaryRef}
              title={problems.title}
              byPath={problems.byPath}
              general={problems.general}
              form={form}
            />
          ) : null}

          <ModelsSection form={form} errors={problems?.byPath ?? {}} update={update} />
          <PrefixesSection form={form} errors={problems?.byPath ?? {}} update={update} />
          <SourceLocatorsSection form={form} errors={problems?.byPath ?? {}} update={update} />

          <div className="panel">{actions('bottom')}</div>
        </form>
      )}
    </section>
  );
}
