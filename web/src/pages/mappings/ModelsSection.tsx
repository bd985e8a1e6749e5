import { Field } from '../../components/Field.js';
import { type EditorProps, pathAttr } from './editor.js';
import { type ModelForm, newModel, WORKLOAD_TYPES, type WorkloadType } from './mappings-logic.js';

type TextKey = 'name' | 'eid' | 'quality' | 'latency_ms' | 'cost' | 'service_port';

const MAX_MODELS = 64;

/** The model catalogue: what /route chooses from, each model reached at its EID. */
export function ModelsSection({ form, errors, update }: EditorProps) {
  return (
    <section className="panel" aria-labelledby="models-title">
      <div className="panel-header">
        <h2 id="models-title">Models</h2>
        <span className="muted">
          {form.models.length} of at most {MAX_MODELS}; routing picks among the enabled ones
        </span>
      </div>
      {errors.models ? (
        <p className="field-error list-error" {...pathAttr('models')} tabIndex={-1}>
          {errors.models}
        </p>
      ) : null}
      <div className="mapping-cards">
        {form.models.map((model, i) => (
          <ModelCard key={model.key} model={model} index={i} errors={errors} update={update} />
        ))}
      </div>
      <button
        type="button"
        className="button"
        disabled={form.models.length >= MAX_MODELS}
        onClick={() => update((f) => void f.models.push(newModel()), 'models')}
      >
        Add model
      </button>
    </section>
  );
}

function ModelCard({
  model,
  index,
  errors,
  update,
}: {
  model: ModelForm;
  index: number;
  errors: EditorProps['errors'];
  update: EditorProps['update'];
}) {
  const base = `models.${index}`;
  const title = `Model ${index + 1}${model.name ? `: ${model.name}` : ''}`;
  const text = (
    key: TextKey,
    label: string,
    options: { numeric?: boolean; hint?: string } = {},
  ) => {
    const path = `${base}.${key}`;
    return (
      <Field label={label} error={errors[path]} {...(options.hint ? { hint: options.hint } : {})}>
        <input
          type="text"
          {...(options.numeric ? { inputMode: 'decimal' as const } : {})}
          className={key === 'eid' || key === 'name' ? 'mono' : undefined}
          value={model[key]}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) =>
            update((f) => {
              f.models[index]![key] = e.target.value;
            }, path)
          }
          {...pathAttr(path)}
        />
      </Field>
    );
  };
  const strengthsPath = `${base}.strengths`;
  const toggle = (w: WorkloadType, on: boolean) =>
    update((f) => {
      const m = f.models[index]!;
      m.strengths = on ? [...m.strengths, w] : m.strengths.filter((s) => s !== w);
    }, strengthsPath);
  return (
    <fieldset className={`mapping-card${errors[base] ? ' has-error' : ''}`}>
      <legend>{title}</legend>
      {errors[base] ? (
        <p className="field-error" {...pathAttr(base)} tabIndex={-1}>
          {errors[base]}
        </p>
      ) : null}
      <div className="mapping-grid">
        {text('name', 'Name', { hint: 'a-z 0-9 . _ -' })}
        {text('eid', 'EID', { hint: 'inside an EID prefix below' })}
        <Field label="Locality" error={errors[`${base}.locality`]}>
          <select
            value={model.locality}
            onChange={(e) =>
              update((f) => {
                f.models[index]!.locality = e.target.value as ModelForm['locality'];
              }, `${base}.locality`)
            }
            {...pathAttr(`${base}.locality`)}
          >
            <option value="cloud">cloud</option>
            <option value="local">local</option>
          </select>
        </Field>
        {text('quality', 'Quality (1–10)', { numeric: true })}
        {text('latency_ms', 'Latency (ms)', { numeric: true })}
        {text('cost', 'Cost', { numeric: true, hint: 'per request, relative' })}
        {text('service_port', 'Service port', { numeric: true })}
        <div className="field checkbox-field">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={model.enabled}
              onChange={(e) =>
                update((f) => {
                  f.models[index]!.enabled = e.target.checked;
                }, `${base}.enabled`)
              }
              {...pathAttr(`${base}.enabled`)}
            />
            Enabled
          </label>
          {errors[`${base}.enabled`] ? (
            <span className="field-error">{errors[`${base}.enabled`]}</span>
          ) : null}
        </div>
      </div>
      <fieldset
        className={`strengths${errors[strengthsPath] ? ' has-error' : ''}`}
        aria-describedby={errors[strengthsPath] ? `${strengthsPath}-error` : undefined}
      >
        <legend>Strengths (workloads it suits)</legend>
        <div className="strength-boxes">
          {WORKLOAD_TYPES.map((w, k) => (
            <label key={w} className="checkbox">
              <input
                type="checkbox"
                checked={model.strengths.includes(w)}
                onChange={(e) => toggle(w, e.target.checked)}
                {...(k === 0 ? pathAttr(strengthsPath) : {})}
              />
              <span className="mono">{w}</span>
            </label>
          ))}
        </div>
        {errors[strengthsPath] ? (
          <span className="field-error" id={`${strengthsPath}-error`}>
            {errors[strengthsPath]}
          </span>
        ) : null}
      </fieldset>
      <div className="card-actions">
        <button
          type="button"
          className="button button-quiet danger-text"
          onClick={() => update((f) => void f.models.splice(index, 1), 'models')}
        >
          Remove {model.name ? `model ${model.name}` : `model ${index + 1}`}
        </button>
      </div>
    </fieldset>
  );
}
