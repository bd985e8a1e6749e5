import { type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LOCK_FILE, REPO_ROOT } from './paths.js';

/**
 * Every function runs on nodejs22.x, the runtime issue 8 and DESIGN.md fix
 * (the code is built and tested for Node 20 and 22).
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_22_X;

/**
 * Bundling, decided once for every function:
 * - esbuild from node_modules on this machine (a root dependency), never Docker;
 * - ESM (`index.mjs`), minified, no source maps (they slow cold starts and
 *   stack traces, and the code is small enough to read minified with the repo at hand);
 * - the AWS SDK is bundled (`bundleAwsSDK`), so the file the tests import is
 *   exactly the one Lambda runs, with the SDK version from package-lock.json
 *   rather than whatever the runtime ships that month (and no doubt whether
 *   the runtime carries lib-storage and s3-request-presigner). The cost, for
 *   the API (esbuild 0.28.2, SDK 3.1178, measured 2026-12-04): 1,015,638 B
 *   minified (301,922 B gzip) with the SDK bundled, cold import 128 ms.
 *   zod is imported as a namespace everywhere (`import * as z from 'zod'`),
 *   which lets esbuild drop its unused locales: `import { z }` kept all of
 *   zod and made the API 1,347,469 B. bench/bundles.bench.ts prints the
 *   current sizes and cold imports.
 * - a createRequire banner, so a CommonJS dependency's require() of a Node
 *   builtin works inside the ESM bundle ("Dynamic require of ... is not supported").
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: false,
  sourcesContent: false,
  bundleAwsSDK: true,
  mainFields: ['module', 'main'],
  banner:
    "import { createRequire as __wirefleetCreateRequire } from 'node:module'; const require = __wirefleetCreateRequire(import.meta.url);",
} as const;

export interface WirefleetFunctionProps {
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  logRetention: RetentionDays;
  environment: Record<string, string>;
  /** Files the bundle reads at run time, copied beside index.mjs. */
  commandHooks?: ICommandHooks;
}

/**
 * One Lambda function with its own role and log group. The role starts empty
 * (no AWSLambdaBasicExecutionRole): it may write only to its own log group,
 * and each caller adds exactly the grants the function needs.
 */
export class WirefleetFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WirefleetFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (${Stack.of(this).stackName})`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      bundling: {
        ...BUNDLING,
        mainFields: [...BUNDLING.mainFields],
        ...(props.commandHooks ? { commandHooks: props.commandHooks } : {}),
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is deliberate: issue 8 and the design fix it, the code is built and tested on Node 20 and 22, and AWS supports it until 2027-04-30. Moving to nodejs24.x is a tested change of its own.',
    });
  }

  addToRolePolicy(statement: PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }
}
