import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONSOLE_CSP,
  consoleIsStale,
  consoleResponse,
  IMMUTABLE,
} from '../../../infra/local/console.js';
import { buildConsole } from '../../../web/build.js';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../../..');

let dir: string;
const get = (pathname: string, init: RequestInit = {}) =>
  consoleResponse(dir, new Request(`http://127.0.0.1:8000${pathname}`, init));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-serve-'));
  await mkdir(path.join(dir, 'assets'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(path.join(dir, 'assets/main-ABCDEF12.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'assets/main-ABCDEF12.css'), 'body{}');
  await writeFile(path.join(dir, 'assets/notes.txt'), 'secret-ish');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the local stack serves the built console (files in a temp dir)', () => {
  it('answers / with index.html, the CSP and no-cache', async () => {
    const res = (await get('/'))!;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-(inline|eval)/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('<title>t</title>');
  });

  it('serves hashed assets with their type, cached for ever; a matching ETag gets 304', async () => {
    const js = (await get('/assets/main-ABCDEF12.js'))!;
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe(IMMUTABLE);
    const css = (await get('/assets/main-ABCDEF12.css'))!;
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const again = (await get('/assets/main-ABCDEF12.js', {
      headers: { 'If-None-Match': js.headers.get('etag')! },
    }))!;
    expect(again.status).toBe(304);
    const head = (await get('/', { method: 'HEAD' }))!;
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses other files, unknown types and climbing out of assets/', async () => {
    for (const pathname of [
      '/assets/notes.txt',
      '/assets/missing-ABCDEF12.js',
      '/assets/..%2findex.html',
      '/assets/sub/main-ABCDEF12.js',
    ]) {
      const res = await get(pathname);
      if (res === undefined) continue; // not a console path at all: the API answers
      expect(res.status, pathname).toBe(404);
      expect(((await res.json()) as any).error.code).toBe('not_found');
    }
  });

  it('leaves every other path and method to the API', () => {
    expect(get('/api/v1/packets/stats')).toBeUndefined();
    expect(get('/docs')).toBeUndefined();
    expect(get('/openapi.json')).toBeUndefined();
    expect(get('/', { method: 'POST' })).toBeUndefined();
  });

  it('says how to build the console when there is none', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-none-'));
    try {
      const res = (await consoleResponse(empty, new Request('http://x/')))!;
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:web');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('calls a build stale when missing or older than any source', async () => {
    const web = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-web-'));
    const dist = path.join(web, 'dist');
    try {
      await mkdir(path.join(web, 'src/pages'), { recursive: true });
      await writeFile(path.join(web, 'index.html'), 'x');
      await writeFile(path.join(web, 'build.ts'), 'x');
      await writeFile(path.join(web, 'src/pages/a.tsx'), 'x');
      expect(await consoleIsStale(dist, web)).toBe(true);
      await mkdir(dist);
      await writeFile(path.join(dist, 'index.html'), 'built');
      const old = new Date('2026-01-01T00:00:00Z');
      for (const f of ['index.html', 'build.ts', 'src/pages/a.tsx'])
        await utimes(path.join(web, f), old, old);
      expect(await consoleIsStale(dist, web)).toBe(false);
      const later = new Date(Date.now() + 60_000);
      await utimes(path.join(web, 'src/pages/a.tsx'), later, later);
      expect(await consoleIsStale(dist, web)).toBe(true);
    } finally {
      await rm(web, { recursive: true, force: true });
    }
  });
});

describe('web/build.ts (esbuild, into a temp dir)', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-build-'));
  });
  afterAll(() => rm(out, { recursive: true, force: true }));

  it('writes index.html naming hashed JS, CSS and icon that exist; JS well under 250 KB gzip', async () => {
    const build = await buildConsole(out);
    const html = await readFile(path.join(out, 'index.html'), 'utf8');
    for (const asset of [build.js, build.css]) {
      expect(asset.file).toMatch(/^assets\/main-[A-Z0-9]{8}\.(js|css)$/);
      expect(html).toContain(`/${asset.file}`);
      expect((await readFile(path.join(out, asset.file))).length).toBe(asset.bytes);
    }
    expect(html).toMatch(/href="\/assets\/favicon-[A-Z0-9]{8}\.svg"/);
    expect(html).not.toMatch(/<script>|%CONSOLE_/);
    expect(build.js.gzipBytes).toBeLessThan(250 * 1024);
    expect(build.js.gzipBytes).toBeLessThan(build.js.bytes);
  });

  it('as a CLI: --out-dir, sizes printed; a bad argument exits non-zero', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'web/build.ts', '--out-dir', out],
      {
        cwd: REPO,
      },
    );
    expect(stdout).toMatch(/assets\/main-[A-Z0-9]{8}\.js\s+\d+ B .* gzip\s+\d+ B/);
    const bad = await run(process.execPath, ['--import', 'tsx', 'web/build.ts', '--outdir'], {
      cwd: REPO,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain('unknown argument "--outdir"');
  });
});
