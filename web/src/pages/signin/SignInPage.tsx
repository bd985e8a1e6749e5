import { type FormEvent, useEffect, useRef, useState } from 'react';
import { ApiRequestError, createApiClient } from '../../api/client.js';
import { useAuth } from '../../app/auth.js';
import { Field } from '../../components/Field.js';

/**
 * Sign-in with an API token. The token is checked against the API before it
 * is kept (sessionStorage only, never in the address bar).
 */
export function SignInPage() {
  const { signIn, notice } = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState<ApiRequestError>();
  const [checking, setChecking] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Sign in · wirefleet';
    inputRef.current?.focus();
  }, []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const candidate = token.trim();
    if (!candidate) {
      setError(new ApiRequestError(0, 'missing_token', 'enter the API token'));
      return;
    }
    setChecking(true);
    setError(undefined);
    try {
      await createApiClient({ token: candidate }).get('/packets/stats');
      if (!window.location.hash || window.location.hash === '#/')
        window.location.hash = '#/packets';
      signIn(candidate);
    } catch (failure) {
      setError(
        failure instanceof ApiRequestError
          ? failure
          : new ApiRequestError(0, 'network_error', (failure as Error).message),
      );
      setChecking(false);
      inputRef.current?.focus();
    }
  }

  return (
    <main className="signin">
      <section className="signin-card" aria-labelledby="signin-title">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          wirefleet
        </div>
        <h1 id="signin-title">Sign in</h1>
        {notice && !error ? (
          <div className={`status ${notice.code ? 'status-error' : 'status-info'}`} role="alert">
            {notice.code ? (
              <>
                <strong>Signed out by the API</strong>
                <p>
                  <code className="error-code">{notice.code}</code> {notice.message}
                </p>
              </>
            ) : (
              <p>{notice.message}</p>
            )}
          </div>
        ) : null}
        <form onSubmit={onSubmit} noValidate>
          <Field
            label="API token"
            hint="npm start prints it and keeps it in .wirefleet/api-token; wirefleet token create makes more."
            error={error ? `${error.message}${error.code ? ` (${error.code})` : ''}` : undefined}
          >
            <input
              ref={inputRef}
              type="password"
              name="token"
              autoComplete="off"
              spellCheck={false}
              value={token}
              onChange={(e) => setToken(e.target.value)}
              className="mono"
            />
          </Field>
          <button type="submit" className="button button-primary" disabled={checking}>
            {checking ? 'Checking…' : 'Sign in'}
          </button>
        </form>
        <p className="signin-note">
          The token stays in this tab only (session storage) and is sent to the API as a bearer
          token.
        </p>
      </section>
    </main>
  );
}
