import { Field } from '../../components/Field.js';
import { type EditorProps, pathAttr } from './editor.js';
import { type EidPrefixForm, newLocator, newPrefix } from './mappings-logic.js';

const MAX_LOCATORS = 32;

/** The map-cache: each EID prefix and the RLOCs that reach it (RFC 9301 priority and weight). */
export function PrefixesSection({ form, errors, update }: EditorProps) {
  return (
    <section className="panel" aria-labelledby="prefixes-title">
      <div className="panel-header">
        <h2 id="prefixes-title">EID prefixes</h2>
        <span className="muted">
          longest match wins; lower priority is preferred, weight shares among equals
        </span>
      </div>
      {errors.eid_prefixes ? (
        <p className="field-error list-error" {...pathAttr('eid_prefixes')} tabIndex={-1}>
          {errors.eid_prefixes}
        </p>
      ) : null}
      <div className="mapping-cards prefix-cards">
        {form.eid_prefixes.map((prefix, i) => (
          <PrefixCard key={prefix.key} prefix={prefix} index={i} errors={errors} update={update} />
        ))}
      </div>
      <button
        type="button"
        className="button"
        onClick={() => update((f) => void f.eid_prefixes.push(newPrefix()), 'eid_prefixes')}
      >
        Add EID prefix
      </button>
    </section>
  );
}

function PrefixCard({
  prefix,
  index,
  errors,
  update,
}: {
  prefix: EidPrefixForm;
  index: number;
  errors: EditorProps['errors'];
  update: EditorProps['update'];
}) {
  const base = `eid_prefixes.${index}`;
  const locatorsPath = `${base}.locators`;
  const title = `EID prefix ${index + 1}${prefix.prefix ? `: ${prefix.prefix}` : ''}`;
  const input = (
    key: 'prefix' | 'description' | 'ttl_minutes',
    label: string,
    options: { numeric?: boolean; mono?: boolean } = {},
  ) => {
    const path = `${base}.${key}`;
    return (
      <Field label={label} error={errors[path]}>
        <input
          type="text"
          {...(options.numeric ? { inputMode: 'numeric' as const } : {})}
          className={options.mono ? 'mono' : undefined}
          value={prefix[key]}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) =>
            update((f) => {
              f.eid_prefixes[index]![key] = e.target.value;
            }, path)
          }
          {...pathAttr(path)}
        />
      </Field>
    );
  };
  return (
    <fieldset className="mapping-card">
      <legend>{title}</legend>
      {errors[base] ? (
        <p className="field-error" {...pathAttr(base)} tabIndex={-1}>
          {errors[base]}
        </p>
      ) : null}
      <div className="mapping-grid prefix-grid">
        {input('prefix', 'Prefix', { mono: true })}
        {input('description', 'Description')}
        {input('ttl_minutes', 'TTL (minutes)', { numeric: true })}
      </div>
      <fieldset className="locators">
        <legend>Locators of {prefix.prefix || `prefix ${index + 1}`}</legend>
        {errors[locatorsPath] ? (
          <p className="field-error" {...pathAttr(locatorsPath)} tabIndex={-1}>
            {errors[locatorsPath]}
          </p>
        ) : null}
        {prefix.locators.length === 0 ? (
          <p className="muted">
            No locators: this prefix is a negative mapping (nothing reaches it).
          </p>
        ) : null}
        {prefix.locators.map((locator, j) => {
          const lbase = `${locatorsPath}.${j}`;
          const set = (key: 'rloc' | 'priority' | 'weight', label: string, numeric: boolean) => (
            <Field label={label} error={errors[`${lbase}.${key}`]}>
              <input
                type="text"
                {...(numeric ? { inputMode: 'numeric' as const } : {})}
                className={numeric ? undefined : 'mono'}
                value={locator[key]}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) =>
                  update((f) => {
                    f.eid_prefixes[index]!.locators[j]![key] = e.target.value;
                  }, `${lbase}.${key}`)
                }
                {...pathAttr(`${lbase}.${key}`)}
              />
            </Field>
          );
          return (
            <div key={locator.key} className="locator-row">
              {errors[lbase] ? (
                <p className="field-error locator-error" {...pathAttr(lbase)} tabIndex={-1}>
                  {errors[lbase]}
                </p>
              ) : null}
              {set('rloc', `RLOC ${j + 1}`, false)}
              {set('priority', 'Priority', true)}
              {set('weight', 'Weight', true)}
              <label className="checkbox locator-check">
                <input
                  type="checkbox"
                  checked={locator.reachable}
                  onChange={(e) =>
                    update((f) => {
                      f.eid_prefixes[index]!.locators[j]!.reachable = e.target.checked;
                    }, `${lbase}.reachable`)
                  }
                  {...pathAttr(`${lbase}.reachable`)}
                />
                Up
              </label>
              <button
                type="button"
                className="button button-quiet danger-text"
                aria-label={`Remove RLOC ${j + 1}${locator.rloc ? ` (${locator.rloc})` : ''} of ${prefix.prefix || `prefix ${index + 1}`}`}
                onClick={() =>
                  update((f) => void f.eid_prefixes[index]!.locators.splice(j, 1), locatorsPath)
                }
              >
                Remove
              </button>
            </div>
          );
        })}
        <button
          type="button"
          className="button"
          disabled={prefix.locators.length >= MAX_LOCATORS}
          onClick={() =>
            update((f) => void f.eid_prefixes[index]!.locators.push(newLocator()), locatorsPath)
          }
        >
          Add locator
        </button>
      </fieldset>
      <div className="card-actions">
        <button
          type="button"
          className="button button-quiet danger-text"
          onClick={() => update((f) => void f.eid_prefixes.splice(index, 1), 'eid_prefixes')}
        >
          Remove {prefix.prefix ? `prefix ${prefix.prefix}` : `prefix ${index + 1}`}
        </button>
      </div>
    </fieldset>
  );
}
