import { Field } from '../../components/Field.js';
import {
  COMMAND_ACTIONS,
  type CommandAction,
  type CommandForm,
  type CommandFormErrors,
  EVIDENCE_CIPHERS,
} from './agent-logic.js';

type TextKey = {
  [K in keyof CommandForm]: CommandForm[K] extends string ? K : never;
}[keyof CommandForm];

/** The action and the parameters it takes; empty fields leave the agent's configured value. */
export function CommandFields({
  form,
  errors,
  onChange,
}: {
  form: CommandForm;
  errors: CommandFormErrors;
  onChange(form: CommandForm): void;
}) {
  const text = (key: TextKey, label: string, hint?: string, numeric = false) => (
    <Field label={label} error={errors[key]} {...(hint ? { hint } : {})}>
      <input
        type="text"
        {...(numeric ? { inputMode: 'numeric' as const } : {})}
        value={form[key]}
        onChange={(e) => onChange({ ...form, [key]: e.target.value })}
        autoComplete="off"
        spellCheck={false}
      />
    </Field>
  );
  return (
    <div className="command-fields">
      <Field label="Command">
        <select
          value={form.action}
          onChange={(e) => onChange({ ...form, action: e.target.value as CommandAction })}
        >
          {COMMAND_ACTIONS.map((a) => (
            <option key={a.value} value={a.value}>
              {a.label}
            </option>
          ))}
        </select>
      </Field>

      {form.action === 'status' ? (
        <p className="muted command-help">
          Asks the agent for its capture state and counters; nothing changes on the agent.
        </p>
      ) : null}

      {form.action === 'capture.start' ? (
        <fieldset className="command-params">
          <legend>Capture parameters (empty = the agent's config)</legend>
          {text(
            'interface',
            'Interface',
            'e.g. eth0; empty replays or captures what the config names',
          )}
          <Field label="Backend">
            <select
              value={form.backend}
              onChange={(e) =>
                onChange({ ...form, backend: e.target.value as CommandForm['backend'] })
              }
            >
              <option value="">as configured</option>
              <option value="afpacket">afpacket</option>
              <option value="libpcap">libpcap</option>
              <option value="file">file</option>
            </select>
          </Field>
          {text('filter_expr', 'Capture filter', 'tcpdump syntax, e.g. udp port 4341')}
          {text('snaplen', 'Snap length (bytes)', '0 = whole packets', true)}
          {text('buffer_size_mb', 'Ring buffer (MiB)', undefined, true)}
        </fieldset>
      ) : null}

      {form.action === 'capture.stop' ? (
        <label className="checkbox">
          <input
            type="checkbox"
            checked={form.graceful}
            onChange={(e) => onChange({ ...form, graceful: e.target.checked })}
          />
          Graceful: export the flows still active before stopping
        </label>
      ) : null}

      {form.action === 'evidence.enable' ? (
        <fieldset className="command-params">
          <legend>Evidence recording</legend>
          <Field label="Cipher">
            <select
              value={form.cipher_suite}
              onChange={(e) =>
                onChange({ ...form, cipher_suite: e.target.value as CommandForm['cipher_suite'] })
              }
            >
              <option value="">as configured</option>
              {EVIDENCE_CIPHERS.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </Field>
          <p className="muted command-help">
            Seals the live capture's segments with the key file the agent's config names (the cloud
            never picks a file on the agent) and uploads them; they appear under Evidence segments.
            The reply's <code>applies</code> says when: now, or at the next start of a capture that
            is running unrecorded.
          </p>
        </fieldset>
      ) : null}

      {form.action === 'meter.configure' ? (
        <fieldset className="command-params">
          <legend>Flow meter (empty = unchanged)</legend>
          {text('idle_timeout_sec', 'Idle timeout (s)', undefined, true)}
          {text('active_timeout_sec', 'Active timeout (s)', undefined, true)}
          {text('export_interval_sec', 'Export interval (s)', undefined, true)}
          {text('table_size', 'Flow table size', undefined, true)}
          <p className="muted command-help">
            During a running capture, the table size and timeouts wait for its next start; the
            export interval applies at once.
          </p>
        </fieldset>
      ) : null}
    </div>
  );
}
