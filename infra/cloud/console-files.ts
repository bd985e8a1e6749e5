import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AssetHashType, BundlingOutput, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { CONSOLE_BUILD_SCRIPT, REPO_ROOT, WEB_DIR } from './paths.js';

export class ConsoleBuildError extends Error {
  override readonly name = 'ConsoleBuildError';
}

/**
 * Builds the console on this machine during synth: `npx tsx web/build.ts
 * --out-dir <asset dir>`, which writes index.html and assets/*-<hash>.{js,css,svg}.
 * A failed build fails synth with the build's own error output; there is no
 * Docker fallback (synth must work without Docker).
 */
export class ConsoleLocalBuild implements ILocalBundling {
  constructor(private readonly buildScript: string = CONSOLE_BUILD_SCRIPT) {}

  tryBundle(outputDir: string): boolean {
    // --no: never download tsx; it is a dependency of the repository.
    const args = ['--no', 'tsx', this.buildScript, '--out-dir', outputDir];
    try {
      const report = execFileSync('npx', args, {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 16 * 1024 * 1024,
      });
      // The build's size report, next to CDK's own bundling messages.
      process.stderr.write(report);
    } catch (error) {
      const failure = error as {
        status?: number | null;
        signal?: string | null;
        stderr?: string;
        message: string;
      };
      const how = failure.status != null ? `exit ${failure.status}` : (failure.signal ?? 'failed');
      const output = failure.stderr?.trim() || failure.message;
      throw new ConsoleBuildError(
        `the web console did not build (npx ${args.join(' ')}: ${how}):\n${output}`,
      );
    }
    if (!existsSync(path.join(outputDir, 'index.html'))) {
      throw new ConsoleBuildError(
        `the web console build (${this.buildScript}) exited 0 but wrote no index.html into ${outputDir}`,
      );
    }
    return true;
  }
}

/**
 * The built console as a file asset. Its hash is that of the build output,
 * so a change anywhere that reaches the bundle (web/, a dependency) makes a
 * new asset, and an unchanged build deploys nothing new.
 */
export function consoleFiles(scope: Construct, id: string, buildScript?: string): Asset {
  return new Asset(scope, id, {
    path: WEB_DIR,
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type, never pulled: ConsoleLocalBuild either builds or throws.
      image: DockerImage.fromRegistry('wirefleet-console-builds-locally-without-docker'),
      local: new ConsoleLocalBuild(buildScript),
      outputType: BundlingOutput.NOT_ARCHIVED,
    },
  });
}
