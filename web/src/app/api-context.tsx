import { createContext, type ReactNode, useContext, useMemo } from 'react';
import { type ApiClient, createApiClient } from '../api/client.js';
import { useAuth } from './auth.js';

const ApiContext = createContext<ApiClient | undefined>(undefined);

/** The signed-in client: any 401 signs out, back to sign-in with the API's message. */
export function ApiProvider({ token, children }: { token: string; children: ReactNode }) {
  const { signOut } = useAuth();
  const client = useMemo(
    () =>
      createApiClient({
        token,
        onUnauthorized: (error) => signOut({ message: error.message, code: error.code }),
      }),
    [token, signOut],
  );
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>;
}

export function useApi(): ApiClient {
  const client = useContext(ApiContext);
  if (!client) throw new Error('useApi() outside <ApiProvider> (not signed in)');
  return client;
}
