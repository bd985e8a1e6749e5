import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm ci` (CI, Docker builds, the CDK's lockfile detection) refuses a lockfile that
// misses a package any locked package may need on some platform: an `npm install` on
// one OS can write a lockfile without the other OSes' optional packages (biome's and
// esbuild's per-platform binaries). These checks read package-lock.json alone, so
// they fail on the machine that wrote the drift, not on the first other one.

interface LockEntry {
  version?: string;
  integrity?: string;
  link?: boolean;
  /** Shipped inside its parent's tarball (bundleDependencies): no integrity of its own. */
  inBundle?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const root = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as LockEntry;
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
};
const packages = lock.packages;

/** Node's lookup: the nearest node_modules/<name> from `from` up to the root. */
function resolveIn(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** What each locked package declares, as [the package's lockfile path, dependency name, spec]. */
function declared(field: 'dependencies' | 'optionalDependencies' | 'peerDependencies') {
  const out: [string, string, string][] = [];
  for (const [at, entry] of Object.entries(packages)) {
    for (const [name, spec] of Object.entries(entry[field] ?? {})) {
      if (field === 'peerDependencies' && entry.peerDependenciesMeta?.[name]?.optional) continue;
      out.push([at, name, spec]);
    }
  }
  return out;
}

const missing = (field: 'dependencies' | 'optionalDependencies' | 'peerDependencies') =>
  declared(field)
    .filter(([at, name]) => !resolveIn(at, name))
    .map(([at, name, spec]) => `${at || '(root)'} → ${name}@${spec}`);

describe('package-lock.json (read alone, as npm ci does)', () => {
  it('is a lockfile v3 whose root declares exactly package.json dependencies', () => {
    expect(lock.lockfileVersion).toBe(3);
    const rootEntry = packages[''];
    expect(rootEntry).toBeDefined();
    expect(rootEntry!.dependencies ?? {}).toEqual(manifest.dependencies ?? {});
    expect(rootEntry!.devDependencies ?? {}).toEqual(manifest.devDependencies ?? {});
    expect(rootEntry!.optionalDependencies ?? {}).toEqual(manifest.optionalDependencies ?? {});
  });

  it('locks every optional dependency any locked package declares (all platforms)', () => {
    const optional = declared('optionalDependencies');
    // biome and esbuild alone declare platform packages; none means the check read nothing.
    expect(optional.length).toBeGreaterThan(20);
    expect(missing('optionalDependencies')).toEqual([]);
  });

  it('pins each exactly-versioned optional dependency at that version', () => {
    const exact = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
    const stale = declared('optionalDependencies')
      .filter(([, , spec]) => exact.test(spec))
      .flatMap(([at, name, spec]) => {
        const found = resolveIn(at, name);
        const version = found ? packages[found]!.version : undefined;
        return found && version !== spec ? [`${found}: ${version}, ${at} wants ${spec}`] : [];
      });
    expect(stale).toEqual([]);
  });

  it('locks every dependency and required peer dependency of every locked package', () => {
    expect(missing('dependencies')).toEqual([]);
    expect(missing('peerDependencies')).toEqual([]);
  });

  it('gives every package fetched from the registry a version and an integrity hash', () => {
    const incomplete = Object.entries(packages)
      .filter(([at, entry]) => at !== '' && !entry.link && !entry.inBundle)
      .filter(([, entry]) => !entry.version || !entry.integrity)
      .map(([at]) => at);
    expect(incomplete).toEqual([]);
  });
});
