import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../functions/logger.js';

/**
 * The web console as the local stack serves it: web/dist (built by
 * web/build.ts) at `/`, on the API's origin. Only the local stack does this;
 * in AWS the console comes from S3 behind CloudFront and the Lambda never
 * serves it.
 */

// import.meta.url, not dirname: the CLI bundle rewrites it to this file's own URL.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WEB_DIR = path.join(REPO_ROOT, 'web');
export const DEFAULT_CONSOLE_DIR = path.join(WEB_DIR, 'dist');

/**
 * No inline scripts or styles, no eval, nothing from another origin; the API
 * is on the same origin. Downloads leave through a link to the presigned URL
 * (a navigation, which connect-src does not govern).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Built asset names carry an esbuild content hash: `main-FDOYOS4P.js`. */
const HASHED_ASSET = /^[\w-]+-[A-Z0-9]{8}\.(js|css|svg)$/;
/** What may follow /assets/: one plain file name, nothing that climbs out. */
const SAFE_NAME = /^[\w-]+(\.[\w-]+)*$/;

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const HTML_HEADERS = {
  ...BASE_HEADERS,
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const t = entry.isDirectory() ? await newestMtime(file) : (await stat(file)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** True when `distDir/index.html` is missing or older than anything in web/src, index.html or build.ts. */
export async function consoleIsStale(distDir: string, webDir = WEB_DIR): Promise<boolean> {
  const built = await stat(path.join(distDir, 'index.html')).catch(() => undefined);
  if (!built) return true;
  const sources = Math.max(
    await newestMtime(path.join(webDir, 'src')),
    (await stat(path.join(webDir, 'index.html'))).mtimeMs,
    (await stat(path.join(webDir, 'build.ts'))).mtimeMs,
  );
  return sources > built.mtimeMs;
}

export interface ConsoleOptions {
  /** Default web/dist. */
  distDir?: string;
  /** Build when missing or older than web/src (default true). */
  buildIfStale?: boolean;
}

export interface PreparedConsole {
  distDir: string;
  /** What the build on start printed, when there was one. */
  built?: { jsBytes: number; jsGzip: number; cssBytes: number; cssGzip: number; ms: number };
  /** Why the console is not available (a failed build and nothing older to serve). */
  unavailable?: string;
  /** The build on start failed, and an older build is served instead. */
  staleBecause?: string;
  /** The response for a console path, or undefined for anything else (the API answers). */
  handle(request: Request): Promise<Response> | undefined;
}

/**
 * Builds the console if it is stale (esbuild, about a second) and returns its
 * request handler. A failed build is logged and leaves the last good build
 * in place; with none, `/` says how to build it.
 */
export async function prepareConsole(
  options: ConsoleOptions,
  logger: Logger,
): Promise<PreparedConsole> {
  const distDir = options.distDir ?? DEFAULT_CONSOLE_DIR;
  let built: PreparedConsole['built'];
  let unavailable: string | undefined;
  if ((options.buildIfStale ?? true) && (await consoleIsStale(distDir))) {
    const started = performance.now();
    try {
      // Loaded only when needed: esbuild is not part of a start with an up-to-date console.
      const { buildConsole } = await import('../../web/build.js');
      const build = await buildConsole(distDir);
      built = {
        jsBytes: build.js.bytes,
        jsGzip: build.js.gzipBytes,
        cssBytes: build.css.bytes,
        cssGzip: build.css.gzipBytes,
        ms: Math.round(performance.now() - started),
      };
      logger.info('console built', { distDir, ...built });
    } catch (error) {
      unavailable = `the console did not build: ${(error as Error).message.split('\n')[0]}`;
      logger.warn('console build failed', { distDir, error: (error as Error).message });
    }
  }
  let staleBecause: string | undefined;
  if (unavailable && (await stat(path.join(distDir, 'index.html')).catch(() => undefined))) {
    staleBecause = unavailable; // an older build is there: serve it, and say so
    unavailable = undefined;
  }
  return {
    distDir,
    ...(built ? { built } : {}),
    ...(unavailable ? { unavailable } : {}),
    ...(staleBecause ? { staleBecause } : {}),
    handle: (request) => consoleResponse(distDir, request),
  };
}

/** The console's answer for `/`, `/index.html` and `/assets/<file>`; undefined elsewhere. */
export function consoleResponse(distDir: string, request: Request): Promise<Response> | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const { pathname } = new URL(request.url);
  if (pathname === '/' || pathname === '/index.html') return serveIndex(distDir, request);
  if (pathname.startsWith('/assets/')) {
    return serveAsset(distDir, pathname.slice('/assets/'.length), request);
  }
  return undefined;
}

function etagOf(info: { size: number; mtimeMs: number }): string {
  return `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
}

async function fileResponse(
  file: string,
  request: Request,
  headers: Record<string, string>,
): Promise<Response | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const etag = etagOf(info);
  const all = { ...headers, ETag: etag };
  if (request.headers.get('if-none-match') === etag)
    return new Response(null, { status: 304, headers: all });
  const body = request.method === 'HEAD' ? null : await readFile(file);
  return new Response(body, {
    status: 200,
    headers: { ...all, 'Content-Length': String(info.size) },
  });
}

async function serveIndex(distDir: string, request: Request): Promise<Response> {
  const response = await fileResponse(path.join(distDir, 'index.html'), request, {
    ...HTML_HEADERS,
    'Content-Type': CONTENT_TYPES['.html']!,
    'Cache-Control': 'no-cache',
  });
  return (
    response ??
    new Response(
      'The wirefleet console is not built. Run `npm run build:web` (or restart `npm start`, which builds it).\n',
      {
        status: 503,
        headers: {
          ...BASE_HEADERS,
          'Content-Type': 'text/plain; charset=utf-8',
          'Cache-Control': 'no-store',
        },
      },
    )
  );
}

async function serveAsset(distDir: string, name: string, request: Request): Promise<Response> {
  const type = CONTENT_TYPES[path.extname(name)];
  if (SAFE_NAME.test(name) && type) {
    const response = await fileResponse(path.join(distDir, 'assets', name), request, {
      ...BASE_HEADERS,
      'Content-Type': type,
      'Cache-Control': HASHED_ASSET.test(name) ? IMMUTABLE : 'no-cache',
    });
    if (response) return response;
  }
  return new Response(
    JSON.stringify({
      error: { code: 'not_found', message: `no console asset "${name.slice(0, 80)}"` },
    }),
    {
      status: 404,
      headers: { ...BASE_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    },
  );
}
