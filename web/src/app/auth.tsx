import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useMemo,
  useRef,
  useState,
} from 'react';
import { forgetToken, readToken, storeToken } from './session.js';

export interface SignOutNotice {
  /** What the API said (its error.message), or why the user is back here. */
  message: string;
  code?: string;
}

export interface Auth {
  token: string | undefined;
  /** Why the user was signed out, shown on the sign-in page. */
  notice: SignOutNotice | undefined;
  signIn(token: string): void;
  signOut(notice?: SignOutNotice): void;
}

const AuthContext = createContext<Auth | undefined>(undefined);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState(readToken);
  const [notice, setNotice] = useState<SignOutNotice>();
  // Several requests may fail with 401 at once: the first one says why.
  const signedIn = useRef(token !== undefined);
  const signIn = useCallback((next: string) => {
    storeToken(next);
    signedIn.current = true;
    setNotice(undefined);
    setToken(next);
  }, []);
  const signOut = useCallback((why?: SignOutNotice) => {
    forgetToken();
    if (!signedIn.current) return;
    signedIn.current = false;
    setNotice(why);
    setToken(undefined);
  }, []);
  const value = useMemo(
    () => ({ token, notice, signIn, signOut }),
    [token, notice, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth() outside <AuthProvider>');
  return auth;
}
