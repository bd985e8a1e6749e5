import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { handlerEntry } from '../../../infra/cloud/paths.js';
import { type FastSynth, synthFast } from './synth.js';

interface Acknowledgment {
  path: string;
  id: string;
  reason: string;
}

/** Every `Validations.of(x).acknowledge(...)` in the tree, from construct metadata. */
function acknowledgments(root: IConstruct): Acknowledgment[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^[^:]+::/, ''),
          reason,
        })),
      ),
  );
}

/** The same rules with acknowledgments ignored: what fires before anyone explains it. */
function unacknowledgedChecks(): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks();
  // isAcknowledged is private in the typings; shadow it on this instance only.
  (checks as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return checks;
}

describe('cdk-nag AwsSolutions rules', () => {
  let synth: FastSynth;
  beforeAll(() => {
    synth = synthFast({}, { pcapExportEntry: handlerEntry('ingest') });
  });

  it('find no unacknowledged error (warnings are printed)', () => {
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);
    const lines = report.violations.map(
      (v) =>
        `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    const warnings = lines.filter((l) => l.startsWith('warning'));
    console.log(
      `cdk-nag AwsSolutions: ${report.violations.length} unacknowledged findings, ${warnings.length} warnings${warnings.length ? `\n${warnings.join('\n')}` : ''}`,
    );
    expect(lines.filter((l) => !l.startsWith('warning'))).toEqual([]);
  });

  it('every acknowledgment answers a finding that fires on that construct', () => {
    const raw = unacknowledgedChecks().validateScope(synth.app);
    const findings = raw.violations.flatMap((v) =>
      v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })),
    );
    const acks = acknowledgments(synth.app);
    expect(acks.length).toBeGreaterThanOrEqual(8);
    for (const ack of acks) {
      const answered = findings.some(
        (f) => f.id === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)),
      );
      expect(answered, `${ack.id} on ${ack.path} answers nothing`).toBe(true);
    }
  });

  it('every acknowledgment carries a reason a reviewer can check', () => {
    for (const ack of acknowledgments(synth.app)) {
      const where = `${ack.id} on ${ack.path}`;
      expect(ack.id, where).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      // A sentence or more, not a placeholder.
      expect(ack.reason.length, where).toBeGreaterThanOrEqual(100);
      expect(ack.reason, where).not.toMatch(/^(todo|n\/a|none|ok|ignore|suppress)/i);
      expect(ack.reason.split(/\s+/).length, where).toBeGreaterThanOrEqual(15);
    }
  });

  it('acknowledges IAM5 finding by finding, never the rule as a whole', () => {
    const iam5 = acknowledgments(synth.app).filter((a) => a.id.startsWith('AwsSolutions-IAM5'));
    expect(iam5.length).toBeGreaterThanOrEqual(5);
    for (const ack of iam5) expect(ack.id).toMatch(/^AwsSolutions-IAM5\[Resource::.+\]$/);
    expect(acknowledgments(synth.app).map((a) => a.id)).not.toContain('AwsSolutions-IAM4');
  });
});
