import { useState } from 'react';

/**
 * Pages after the first, fetched on request by next_token and kept while the
 * first page refreshes on its own: `items` are every page fetched so far after
 * the first, `nextToken` where to go on (the first page's until more were
 * fetched). `load` keeps the error for the caller to show.
 */
export function useMorePages<T>(
  firstToken: string | null | undefined,
  fetchPage: (token: string) => Promise<{ items: T[]; next_token: string | null }>,
) {
  const [more, setMore] = useState<{ items: T[]; next_token: string | null }>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<Error>();

  async function load(token: string) {
    setLoading(true);
    setError(undefined);
    try {
      const page = await fetchPage(token);
      setMore((prev) => ({
        items: [...(prev?.items ?? []), ...page.items],
        next_token: page.next_token,
      }));
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setLoading(false);
    }
  }

  return {
    items: more?.items ?? [],
    nextToken: more ? more.next_token : (firstToken ?? null),
    loading,
    error,
    load,
  };
}
