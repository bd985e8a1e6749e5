// Runs the TypeScript CLI from an esbuild bundle instead of through tsx: loading tsx and
// compiling ~50 modules costs about 0.25 s and 40 MB on every run, the bundle a few ms.
//
// The bundle lives in node_modules/.cache/wirefleet-cli and is rebuilt on the first run after
// any of its sources changes (a stat of each, about 1 ms), so there is no build step to forget
// and no stale bundle. If it cannot be built (a syntax error mid-edit, a read-only install,
// no esbuild), the CLI runs through tsx as before; WIREFLEET_NO_BUNDLE=1 forces that.
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'infra/cli/main.ts';
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'wirefleet-cli');
const MANIFEST = path.join(CACHE, 'current.json');
/** Bumped when the bundle's shape changes, so older builds are not reused. */
const FORMAT = 1;
/** Files that shape the bundle without being bundled. */
const EXTRA_INPUTS = ['tsconfig.json', 'bin/cli-bundle.js'];
/** Coarse file-system clocks can stamp a file written during a build slightly before it began. */
const CLOCK_SLACK_MS = 2000;
/** Old builds may still be in use by a running process (lazy chunks); keep them a while. */
const PRUNE_AFTER_MS = 3600_000;

/** The bundle's entry if it is newer than all of its inputs, else undefined. */
function freshBundle() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT || manifest.root !== ROOT) return undefined;
  for (const input of manifest.inputs) {
    try {
      if (statSync(path.join(ROOT, input)).mtimeMs >= manifest.startedMs) return undefined;
    } catch {
      return undefined; // deleted or renamed
    }
  }
  return path.join(CACHE, manifest.dir, 'main.js');
}

/**
 * Bundled modules keep their own location: `import.meta.url` becomes the source file's URL,
 * so paths built from it (the native addon, swagger-ui-dist) resolve as under tsx.
 */
const sourceUrls = {
  name: 'source-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/** Builds a new bundle in its own directory and points the manifest at it (atomically). */
async function buildBundle() {
  const { build } = await import('esbuild');
  const startedMs = Date.now() - CLOCK_SLACK_MS;
  const dir = `build-${Date.now()}-${process.pid}`;
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outdir: path.join(CACHE, dir),
    bundle: true,
    splitting: true, // commands stay lazily loaded chunks: `flows` never loads the AWS SDK
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    plugins: [sourceUrls],
  });
  const inputs = [...Object.keys(result.metafile.inputs), ...EXTRA_INPUTS];
  const manifest = { format: FORMAT, root: ROOT, startedMs, dir, inputs };
  const temp = `${MANIFEST}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(manifest));
  renameSync(temp, MANIFEST);
  pruneOldBuilds(dir);
  return path.join(CACHE, dir, 'main.js');
}

function pruneOldBuilds(current) {
  for (const name of readdirSync(CACHE)) {
    const built = /^build-(\d+)-\d+$/.exec(name);
    if (!built || name === current || Date.now() - Number(built[1]) < PRUNE_AFTER_MS) continue;
    rmSync(path.join(CACHE, name), { recursive: true, force: true });
  }
}

/** The CLI's `main`, from the bundle when possible, else through tsx. */
export async function loadCli() {
  if (process.env.WIREFLEET_NO_BUNDLE !== '1') {
    try {
      let entry = freshBundle();
      if (!entry) {
        mkdirSync(CACHE, { recursive: true });
        entry = await buildBundle();
      }
      return (await import(pathToFileURL(entry).href)).main;
    } catch {
      // fall through: tsx reports a broken source file when (and only if) the command needs it
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return (await import('../infra/cli/main.ts')).main;
}
