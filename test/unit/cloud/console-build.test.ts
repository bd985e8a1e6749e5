import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Console } from '../../../infra/cloud/console.js';
import { ConsoleBuildError, ConsoleLocalBuild } from '../../../infra/cloud/console-files.js';
import { DEFAULT_SETTINGS } from '../../../infra/cloud/settings.js';

// The real build (web/build.ts) runs in test/integration/cloud-artifacts.test.ts,
// through `cdk synth`; here stand-in scripts show what happens when a build fails.

describe('the console build during synth (stand-in build scripts, as test input)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-build-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const script = async (name: string, body: string) => {
    const file = path.join(dir, name);
    await writeFile(file, body);
    return file;
  };

  it('a failing build throws with its exit status and its own error output', async () => {
    const failing = await script(
      'fails.mjs',
      'process.stderr.write(\'Could not resolve "./missing.js"\\n\'); process.exit(3);',
    );
    const out = await mkdtemp(path.join(dir, 'out-'));
    let error: unknown;
    try {
      new ConsoleLocalBuild(failing).tryBundle(out);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConsoleBuildError);
    expect((error as Error).message).toMatch(/exit 3/);
    expect((error as Error).message).toContain('Could not resolve "./missing.js"');
  }, 30_000);

  it('a build that exits 0 without writing index.html is a failure too', async () => {
    const silent = await script('silent.mjs', 'process.exit(0);');
    const out = await mkdtemp(path.join(dir, 'out-'));
    expect(() => new ConsoleLocalBuild(silent).tryBundle(out)).toThrow(/wrote no index\.html/);
  }, 30_000);

  it('fails synth itself, with no Docker fallback, when the stack is built with a failing build', async () => {
    const failing = await script(
      'fails-again.mjs',
      "process.stderr.write('boom\\n'); process.exit(1);",
    );
    const outdir = await mkdtemp(path.join(dir, 'cdk-'));
    // Bundling on (the App default), unlike synthFast.
    const app = new App({ outdir });
    const stack = new Stack(app, 'ConsoleOnly');
    let error: unknown;
    try {
      new Console(stack, 'Console', {
        settings: DEFAULT_SETTINGS,
        httpApi: new HttpApi(stack, 'Api'),
        accessLogBucket: new Bucket(stack, 'Logs'),
        buildScript: failing,
      });
    } catch (e) {
      error = e;
    }
    // aws-cdk-lib wraps it (FailedToBundleAsset) and keeps the build's words.
    expect((error as Error).message).toMatch(/Failed to bundle asset ConsoleOnly\/Console\/Files/);
    expect((error as Error).message).toContain('the web console did not build');
    expect((error as Error).message).toContain('boom');
  }, 30_000);
});
