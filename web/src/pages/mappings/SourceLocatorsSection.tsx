import { Field } from '../../components/Field.js';
import { type EditorProps, pathAttr } from './editor.js';
import { newSourceLocator } from './mappings-logic.js';

/** One per Locator-Status-Bit: at most 8. */
const MAX_SOURCE_LOCATORS = 8;

/** The tenant's own ITR locators: the outer source of its LISP packets, and the LSBs. */
export function SourceLocatorsSection({ form, errors, update }: EditorProps) {
  return (
    <section className="panel" aria-labelledby="source-locators-title">
      <div className="panel-header">
        <h2 id="source-locators-title">Source locators</h2>
        <span className="muted">
          this site's RLOCs; their up/down state sets the Locator-Status-Bits (at most{' '}
          {MAX_SOURCE_LOCATORS})
        </span>
      </div>
      {errors.source_locators ? (
        <p className="field-error list-error" {...pathAttr('source_locators')} tabIndex={-1}>
          {errors.source_locators}
        </p>
      ) : null}
      <div className="source-locators">
        {form.source_locators.map((locator, i) => {
          const base = `source_locators.${i}`;
          return (
            <div key={locator.key} className="locator-row source-row">
              {errors[base] ? (
                <p className="field-error locator-error" {...pathAttr(base)} tabIndex={-1}>
                  {errors[base]}
                </p>
              ) : null}
              <Field label={`Source RLOC ${i + 1}`} error={errors[`${base}.rloc`]}>
                <input
                  type="text"
                  className="mono"
                  value={locator.rloc}
                  autoComplete="off"
                  spellCheck={false}
                  onChange={(e) =>
                    update((f) => {
                      f.source_locators[i]!.rloc = e.target.value;
                    }, `${base}.rloc`)
                  }
                  {...pathAttr(`${base}.rloc`)}
                />
              </Field>
              <label className="checkbox locator-check">
                <input
                  type="checkbox"
                  checked={locator.reachable}
                  onChange={(e) =>
                    update((f) => {
                      f.source_locators[i]!.reachable = e.target.checked;
                    }, `${base}.reachable`)
                  }
                  {...pathAttr(`${base}.reachable`)}
                />
                Up
              </label>
              <button
                type="button"
                className="button button-quiet danger-text"
                aria-label={`Remove source RLOC ${i + 1}${locator.rloc ? ` (${locator.rloc})` : ''}`}
                onClick={() =>
                  update((f) => void f.source_locators.splice(i, 1), 'source_locators')
                }
              >
                Remove
              </button>
            </div>
          );
        })}
      </div>
      <button
        type="button"
        className="button"
        disabled={form.source_locators.length >= MAX_SOURCE_LOCATORS}
        onClick={() =>
          update((f) => void f.source_locators.push(newSourceLocator()), 'source_locators')
        }
      >
        Add source locator
      </button>
    </section>
  );
}
