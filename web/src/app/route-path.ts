/** Hash routes (`#/packets/0190…?model=gpt-4`) as data. Pure: unit-tested in node. */

export interface ParsedRoute {
  /** `/packets/0190ab…`, always starting with "/", no trailing slash, no query. */
  path: string;
  /** Decoded path segments: ['packets', '0190ab…']. */
  segments: string[];
  /** The part after "?", for filters a page keeps in its address. */
  query: URLSearchParams;
}

export const DEFAULT_PATH = '/packets';

export function parseHash(hash: string): ParsedRoute {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split(/\?(.*)/s, 2);
  const segments = pathPart
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  if (segments.length === 0)
    return { path: DEFAULT_PATH, segments: ['packets'], query: new URLSearchParams() };
  return {
    path: `/${segments.map(encodeURIComponent).join('/')}`,
    segments,
    query: new URLSearchParams(queryPart),
  };
}

/** `/packets` + {model: 'gpt-4', page: undefined} → `/packets?model=gpt-4`. */
export function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, value);
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}
