/**
 * The console's API client: JSON over fetch to /api/v1 on the same origin,
 * the token in `Authorization: Bearer`. No DOM access here (unit-tested in
 * node); the app wires sign-out and the token in app/api-context.tsx.
 */

/** An API failure, carrying the API's own `error.code` and `error.message`. */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiResponse<T> {
  data: T;
  status: number;
  headers: Headers;
}

export type QueryParams = Record<string, string | number | undefined>;

/** Per-request extras beyond the contract's arguments. */
export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface ApiClient {
  get<T>(path: string, query?: QueryParams, options?: RequestOptions): Promise<ApiResponse<T>>;
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  put<T>(path: string, body: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  delete<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
}

export interface ApiClientOptions {
  token: string;
  /** Where the API lives; `/api/v1` on the console's own origin by default. */
  baseUrl?: string;
  /** Called on any 401 before the error is thrown: the app signs out with the API's message. */
  onUnauthorized?: (error: ApiRequestError) => void;
  fetch?: typeof fetch;
}

export const API_BASE = '/api/v1';

/** `/packets/recent` + {limit: 50, model: undefined} → `/api/v1/packets/recent?limit=50`. */
export function apiUrl(base: string, path: string, query: QueryParams = {}): string {
  if (!path.startsWith('/')) throw new Error(`API paths start with "/": ${path}`);
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    params.set(name, String(value));
  }
  const search = params.toString();
  return `${base}${path}${search ? `?${search}` : ''}`;
}

export function isAbortError(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'AbortError';
}

/** The API's `{"error": {"code", "message"}}`, or a fallback naming the status. */
export async function errorFromResponse(response: Response): Promise<ApiRequestError> {
  let code = `http_${response.status}`;
  let message = `the API answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body?.error?.code === 'string') code = body.error.code;
    if (typeof body?.error?.message === 'string') message = body.error.message;
  } catch {
    // Not JSON (a proxy's error page): keep the fallback.
  }
  return new ApiRequestError(response.status, code, message);
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = options.baseUrl ?? API_BASE;
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function request<T>(
    method: string,
    url: string,
    body: unknown,
    extra: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${options.token}`,
      ...extra.headers,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(extra.signal ? { signal: extra.signal } : {}),
        credentials: 'omit',
      });
    } catch (error) {
      if (isAbortError(error)) throw error;
      throw new ApiRequestError(
        0,
        'network_error',
        `could not reach the API (${(error as Error).message || 'network error'})`,
      );
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      // A request its caller gave up on (the page went away) signs nobody out.
      if (extra.signal?.aborted) throw new DOMException('the request was aborted', 'AbortError');
      if (response.status === 401) options.onUnauthorized?.(error);
      throw error;
    }
    const type = response.headers.get('content-type') ?? '';
    let data: unknown;
    if (response.status === 204) data = undefined;
    else if (type.includes('json')) {
      try {
        data = await response.json();
      } catch (error) {
        if (isAbortError(error)) throw error;
        throw new ApiRequestError(response.status, 'invalid_response', 'the API sent invalid JSON');
      }
    } else data = await response.text();
    return { data: data as T, status: response.status, headers: response.headers };
  }

  return {
    get: (path, query, extra) => request('GET', apiUrl(base, path, query), undefined, extra),
    post: (path, body, extra) => request('POST', apiUrl(base, path), body ?? {}, extra),
    put: (path, body, extra) => request('PUT', apiUrl(base, path), body, extra),
    delete: (path, extra) => request('DELETE', apiUrl(base, path), undefined, extra),
  };
}
