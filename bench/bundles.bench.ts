import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  type FunctionArtifact,
  localEnvironment,
  readFunctionArtifacts,
  readStackTemplate,
} from '../infra/cloud/assembly.js';
import { synthOffline } from '../infra/cloud/offline-synth.js';
import { type BenchRow, MB, summarize } from './stats.js';

const run = promisify(execFile);
const STACK = 'Wirefleet';
const IMPORT_RUNS = 10;
const GOAL_BUNDLE_BYTES = MB;
const GOAL_IMPORT_MS = 150;

/** Imports the bundle in this fresh process and prints how long the import (Lambda's init) took. */
const IMPORT_SCRIPT = `
const t = performance.now();
await import(process.env.WIREFLEET_BUNDLE_URL);
process.stdout.write(JSON.stringify(performance.now() - t));
process.exit(0);
`;

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Median/min/max of `IMPORT_RUNS` cold imports, each in a new Node process with the function's environment. */
async function coldImports(fn: FunctionArtifact, env: Record<string, string>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', IMPORT_SCRIPT], {
      env: { ...env, WIREFLEET_BUNDLE_URL: pathToFileURL(fn.entryFile).href },
    });
    samples.push(Number(stdout));
  }
  return samples;
}

/**
 * The Lambda bundles exactly as `cdk synth` writes them (offline, local
 * esbuild): size on disk and gzipped, and the cold import time of each in a
 * fresh Node process with the environment the stack gives it. The import is
 * Lambda's init phase minus the runtime's own start-up; it creates the SDK
 * clients but contacts nothing.
 */
export async function bundlesBench(
  report: (row: BenchRow) => void = () => {},
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (row: BenchRow) => {
    rows.push(row);
    report(row);
  };
  const outdir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-bench-cdk-'));
  try {
    const synth = await synthOffline(outdir);
    add({
      name: 'bundles: cdk synth',
      value: synth.ms / 1000,
      unit: 's',
      note: 'npx cdk synth --quiet --no-lookups, no credentials, no Docker, every function bundled by local esbuild',
    });
    const template = readStackTemplate(outdir, STACK);
    const functions = readFunctionArtifacts(outdir, STACK).filter((fn) =>
      fn.constructPath.endsWith('/Handler/Function/Resource'),
    );
    for (const fn of functions) {
      const name = fn.constructPath.split('/')[1]!;
      const code = await readFile(fn.entryFile);
      const gzip = gzipSync(code).length;
      const asset = await directoryBytes(fn.assetDir);
      const isApi = name === 'Api';
      const goal = isApi
        ? `; goal <= 1 MB: ${code.length <= GOAL_BUNDLE_BYTES ? 'met' : 'missed'}`
        : '';
      add({
        name: `bundles: ${name} ${path.basename(fn.entryFile)}`,
        value: code.length,
        unit: 'bytes',
        note: `${(code.length / MB).toFixed(2)} MB, gzip ${gzip.toLocaleString('en-US')} bytes; asset dir ${asset.toLocaleString('en-US')} bytes${asset > code.length ? ' (with the files it reads at run time)' : ''}${goal}`,
      });

      const env = {
        ...localEnvironment(template, fn, {
          bucketName: 'wirefleet-bench-pcaps',
          iotDataEndpoint: 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com',
        }),
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const s = summarize(await coldImports(fn, env));
      add({
        name: `bundles: ${name} cold import`,
        value: s.p50,
        unit: 'ms',
        note: `median of ${s.count} fresh Node ${process.version} processes, min ${s.min.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; goal <= ${GOAL_IMPORT_MS} ms: ${s.p50 <= GOAL_IMPORT_MS ? 'met' : 'missed'}`,
      });
    }
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
  return rows;
}
