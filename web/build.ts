import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

/** The console's sources: web/ beside this file (import.meta.url: the CLI bundle keeps it, not dirname). */
export const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = path.join(WEB_DIR, 'dist');

/** A small mark for the tab, an asset like the others (CSP allows only 'self'). */
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5cad"/><path d="M6 10h20M6 16h20M6 22h20" stroke="#fff" stroke-width="3" stroke-linecap="round"/><circle cx="22" cy="16" r="4" fill="#ffb020"/></svg>\n';

export interface BuiltAsset {
  /** Path relative to the output directory, e.g. `assets/main-3FQ2X.js`. */
  file: string;
  bytes: number;
  gzipBytes: number;
}

export interface ConsoleBuild {
  outDir: string;
  js: BuiltAsset;
  css: BuiltAsset;
  assets: BuiltAsset[];
}

/** Asset names carry a content hash, so they can be cached for ever. */
export const HASHED_ASSET = /^[\w-]+-[A-Z0-9]{8}\.(js|css|svg)$/;

/**
 * Bundles web/src/main.tsx (and the CSS it imports) with esbuild into
 * `outDir/assets/*-<hash>.{js,css}` and writes `outDir/index.html` naming them.
 * index.html is written last, by rename, so a server reading the directory
 * meanwhile sees the old console or the new one, never half of one.
 */
export async function buildConsole(outDir: string = DEFAULT_OUT_DIR): Promise<ConsoleBuild> {
  const assetsDir = path.join(outDir, 'assets');
  await mkdir(assetsDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(WEB_DIR, 'src/main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    platform: 'browser',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const assets: BuiltAsset[] = [];
  for (const file of result.outputFiles) {
    // Unique names: two builds at once never write the same file half-way.
    const tmp = `${file.path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, file.contents);
    await rename(tmp, file.path);
    assets.push(describe(outDir, file.path, file.contents));
  }
  const js = assets.find((a) => a.file.endsWith('.js'));
  const css = assets.find((a) => a.file.endsWith('.css'));
  if (!js || !css) throw new Error('esbuild produced no JS or no CSS bundle');

  const faviconBytes = Buffer.from(FAVICON_SVG);
  const faviconName = `favicon-${contentHash(faviconBytes)}.svg`;
  await writeFile(path.join(assetsDir, faviconName), faviconBytes);
  const favicon = describe(outDir, path.join(assetsDir, faviconName), faviconBytes);
  assets.push(favicon);

  const template = await readFile(path.join(WEB_DIR, 'index.html'), 'utf8');
  const html = template
    .replace('%CONSOLE_JS%', `/${js.file}`)
    .replace('%CONSOLE_CSS%', `/${css.file}`)
    .replace('%CONSOLE_ICON%', `/${favicon.file}`);
  if (html.includes('%CONSOLE_')) throw new Error('web/index.html has a placeholder left');
  const htmlTmp = path.join(outDir, `index.html.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(htmlTmp, html);
  await rename(htmlTmp, path.join(outDir, 'index.html'));
  await pruneAssets(assetsDir, new Set(assets.map((a) => path.basename(a.file))));
  return { outDir, js, css, assets };
}

function describe(outDir: string, file: string, contents: Uint8Array): BuiltAsset {
  return {
    file: path.relative(outDir, file).split(path.sep).join('/'),
    bytes: contents.length,
    gzipBytes: gzipSync(contents, { level: 9 }).length,
  };
}

/** Eight upper-case characters, like esbuild's own asset hashes. */
function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8).toUpperCase();
}

/**
 * Removes assets of earlier builds, but only ones older than a few minutes:
 * a page loaded just before this build may still fetch them, and another
 * build running at the same time may have just written its own.
 */
async function pruneAssets(assetsDir: string, keep: Set<string>): Promise<void> {
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of await readdir(assetsDir)) {
    if (keep.has(name)) continue;
    const file = path.join(assetsDir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && info.mtimeMs < cutoff) await rm(file, { force: true });
  }
}

export function formatBuildReport(build: ConsoleBuild): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  return build.assets
    .map(
      (a) =>
        `  ${a.file.padEnd(36)} ${String(a.bytes).padStart(9)} B (${kb(a.bytes)})  gzip ${String(a.gzipBytes).padStart(8)} B (${kb(a.gzipBytes)})`,
    )
    .join('\n');
}

function outDirFromArgs(args: string[]): string {
  let outDir = DEFAULT_OUT_DIR;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--out-dir') {
      const value = args[++i];
      if (!value) throw new Error('--out-dir needs a directory');
      outDir = path.resolve(value);
    } else if (arg.startsWith('--out-dir=')) {
      outDir = path.resolve(arg.slice('--out-dir='.length));
    } else {
      throw new Error(`unknown argument "${arg}" (usage: web/build.ts [--out-dir DIR])`);
    }
  }
  return outDir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const build = await buildConsole(outDirFromArgs(process.argv.slice(2)));
    process.stdout.write(
      `wirefleet console built into ${build.outDir}\n${formatBuildReport(build)}\n`,
    );
  } catch (error) {
    const messages = (error as { errors?: esbuild.Message[] }).errors;
    if (messages?.length) {
      const text = await esbuild.formatMessages(messages, { kind: 'error' });
      process.stderr.write(text.join(''));
    } else {
      process.stderr.write(`web/build.ts: ${(error as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
