import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads what `cdk synth` wrote: the stack's template and, for each Lambda
 * function, the asset directory its code was bundled into. Used by the
 * artifact tests and the bundle benchmark, which import those very files.
 */
export interface CfnTemplate {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
  Outputs?: Record<string, unknown>;
}

export interface FunctionArtifact {
  logicalId: string;
  /** The construct path, e.g. `Wirefleet/Api/Handler/Function/Resource`. */
  constructPath: string;
  runtime: string;
  handler: string;
  architectures: string[];
  environment: Record<string, unknown>;
  /** Absolute path of the staged asset directory. */
  assetDir: string;
  /** Absolute path of the module Lambda loads (`index.mjs` for `index.handler`). */
  entryFile: string;
}

interface AssemblyManifest {
  artifacts: Record<
    string,
    { type: string; displayName?: string; properties?: { templateFile?: string; file?: string } }
  >;
}

interface AssetManifest {
  files: Record<string, { source: { path: string; packaging?: string } }>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

export class AssemblyError extends Error {
  override readonly name = 'AssemblyError';
}

export function readStackTemplate(outdir: string, stackName: string): CfnTemplate {
  const manifest = readJson<AssemblyManifest>(path.join(outdir, 'manifest.json'));
  const stack = manifest.artifacts[stackName];
  const templateFile = stack?.properties?.templateFile;
  if (stack?.type !== 'aws:cloudformation:stack' || !templateFile) {
    throw new AssemblyError(`no stack ${stackName} in the cloud assembly at ${outdir}`);
  }
  return readJson<CfnTemplate>(path.join(outdir, templateFile));
}

function readAssetManifest(outdir: string, stackName: string): AssetManifest {
  const manifest = readJson<AssemblyManifest>(path.join(outdir, 'manifest.json'));
  const entry = Object.values(manifest.artifacts).find(
    (a) => a.type === 'cdk:asset-manifest' && a.properties?.file === `${stackName}.assets.json`,
  );
  if (!entry?.properties?.file) throw new AssemblyError(`no asset manifest for ${stackName}`);
  return readJson<AssetManifest>(path.join(outdir, entry.properties.file));
}

/**
 * Every Node.js Lambda function of the stack whose code is a staged file asset
 * (not BucketDeployment's Python handler, which aws-cdk-lib ships ready-made).
 */
export function readFunctionArtifacts(outdir: string, stackName: string): FunctionArtifact[] {
  const template = readStackTemplate(outdir, stackName);
  const assets = readAssetManifest(outdir, stackName);
  const artifacts: FunctionArtifact[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const props = resource.Properties ?? {};
    if (!String(props.Runtime).startsWith('nodejs')) continue;
    const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
    if (typeof s3Key !== 'string') continue;
    const asset = assets.files[s3Key.replace(/\.zip$/, '')];
    if (!asset)
      throw new AssemblyError(`${logicalId}: asset ${s3Key} is not in the asset manifest`);
    const assetDir = path.resolve(outdir, asset.source.path);
    const handler = String(props.Handler);
    const moduleName = handler.slice(0, handler.lastIndexOf('.'));
    const entryFile = ['.mjs', '.js', '.cjs']
      .map((ext) => path.join(assetDir, `${moduleName}${ext}`))
      .find((file) => existsSync(file));
    if (!entryFile) throw new AssemblyError(`${logicalId}: no module ${moduleName} in ${assetDir}`);
    artifacts.push({
      logicalId,
      constructPath: String(resource.Metadata?.['aws:cdk:path'] ?? logicalId),
      runtime: String(props.Runtime),
      handler,
      architectures: (props.Architectures as string[] | undefined) ?? ['x86_64'],
      environment:
        (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
      assetDir,
      entryFile,
    });
  }
  return artifacts;
}

/** The function built from the construct at `constructPrefix` (e.g. `Wirefleet/Api/`). */
export function functionArtifact(
  artifacts: FunctionArtifact[],
  constructPrefix: string,
): FunctionArtifact {
  const found = artifacts.filter((a) => a.constructPath.startsWith(constructPrefix));
  if (found.length !== 1) {
    throw new AssemblyError(
      `expected one function under ${constructPrefix}, found ${found.length}: ${artifacts.map((a) => a.constructPath).join(', ')}`,
    );
  }
  return found[0]!;
}

/**
 * A function's environment as the stack sets it, with CloudFormation
 * references replaced by local stand-ins: table and policy names from the
 * template, the bucket and IoT endpoint given by the caller, function names
 * made up (nothing local calls Lambda).
 */
export function localEnvironment(
  template: CfnTemplate,
  fn: FunctionArtifact,
  standIns: { bucketName: string; iotDataEndpoint: string },
): Record<string, string> {
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') {
      const resource = template.Resources[v.Ref];
      switch (resource?.Type) {
        case 'AWS::DynamoDB::Table':
          return String(resource.Properties?.TableName);
        case 'AWS::IoT::Policy':
          return String(resource.Properties?.PolicyName);
        case 'AWS::S3::Bucket':
          return standIns.bucketName;
        case 'AWS::Lambda::Function':
          return `wirefleet-${v.Ref}`;
      }
    }
    const attribute = v['Fn::GetAtt'] as [string, string] | undefined;
    if (attribute && template.Resources[attribute[0]]?.Type === 'Custom::IotDataEndpoint') {
      return standIns.iotDataEndpoint;
    }
    const join = v['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(resolve).join(join[0]);
    throw new AssemblyError(`${fn.logicalId}: no local stand-in for ${JSON.stringify(value)}`);
  };
  return Object.fromEntries(
    Object.entries(fn.environment).map(([key, value]) => [key, resolve(value)]),
  );
}
