import { SignInPage } from '../pages/signin/SignInPage.js';
import { ApiProvider } from './api-context.js';
import { AuthProvider, useAuth } from './auth.js';
import { Shell } from './Shell.js';

/** Signed out: the sign-in page. Signed in: the shell around the page the hash names. */
export function App() {
  return (
    <AuthProvider>
      <Root />
    </AuthProvider>
  );
}

function Root() {
  const { token } = useAuth();
  if (!token) return <SignInPage />;
  return (
    <ApiProvider token={token}>
      <Shell />
    </ApiProvider>
  );
}
