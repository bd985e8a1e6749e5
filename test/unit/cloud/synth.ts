import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { REPO_ROOT } from '../../../infra/cloud/paths.js';
import { settingsFromContext } from '../../../infra/cloud/settings.js';
import type { WirefleetStackProps } from '../../../infra/cloud/stack.js';
import { WirefleetStack } from '../../../infra/cloud/stack.js';

/** The context `cdk synth` runs with: cdk.json's feature flags, so tests see the deployed template. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface FastSynth {
  app: App;
  stack: WirefleetStack;
  template: Template;
}

/**
 * Synthesizes the stack in memory without bundling (`aws:cdk:bundling-stacks`
 * empty): a few seconds, for template and cdk-nag assertions. The real
 * bundles are built and run by test/integration/cloud-artifacts.test.ts.
 */
export function synthFast(
  context: Record<string, unknown> = {},
  props: WirefleetStackProps = {},
): FastSynth {
  const app = new App({
    context: {
      ...cdkJsonContext(),
      // As the CLI does: construct paths in the template's metadata.
      'aws:cdk:enable-path-metadata': true,
      ...context,
      'aws:cdk:bundling-stacks': [],
    },
    // CloudFormation's own template checks cost ~10 s; the real `cdk synth` in
    // test/integration/cloud-artifacts.test.ts runs them (and fails on their errors).
    builtinCloudFormationValidation: false,
  });
  const settings = settingsFromContext(app.node);
  const stack = new WirefleetStack(app, settings.stackName, settings, props);
  return { app, stack, template: Template.fromStack(stack) };
}

type Json = unknown;

/**
 * A CloudFormation value as one string, the way cdk-nag names findings:
 * Ref → `<Id>`, GetAtt → `<Id.Attr>`, Fn::Join → the parts joined.
 */
export function flatten(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, Json>;
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, Json[]];
      return parts.map(flatten).join(sep);
    }
  }
  return JSON.stringify(value);
}

/** arn:<partition>:iot:<region>:<account>:<resource> as CDK renders it for an env-agnostic stack. */
export const iotArnJoin = (resource: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':iot:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${resource}`,
    ],
  ],
});

export const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
