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

describe('cdk-nag AwsSolutions rules on the console distribution', () => {
  const CERTIFICATE =
    'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9';
  const WEB_ACL =
    'arn:aws:wafv2:us-east-1:123456789012:global/webacl/wirefleet/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9';
  const distributionFindings = (synth: FastSynth) =>
    unacknowledgedChecks()
      .validateScope(synth.app)
      .violations.filter((v) =>
        v.violatingResources.some((r) =>
          r.constructPath?.startsWith('Wirefleet/Console/Distribution'),
        ),
      )
      .map((v) => v.ruleName)
      .sort();
  const distributionAcks = (synth: FastSynth) =>
    acknowledgments(synth.app)
      .filter((a) => a.path === 'Wirefleet/Console/Distribution')
      .map((a) => a.id)
      .sort();

  it('default: logging, OAC and origin TLS pass; geo (CFR1), WAF (CFR2) and the cloudfront.net TLS floor (CFR4) are explained', () => {
    const synth = synthFast();
    expect(distributionFindings(synth)).toEqual([
      'AwsSolutions-CFR1',
      'AwsSolutions-CFR2',
      'AwsSolutions-CFR4',
    ]);
    expect(distributionAcks(synth)).toEqual(distributionFindings(synth));
  });

  it('with a custom domain and a web ACL, CFR4 and CFR2 pass on their own and are not acknowledged', () => {
    const synth = synthFast({
      consoleDomainName: 'console.example.com',
      consoleCertificateArn: CERTIFICATE,
      consoleWebAclArn: WEB_ACL,
    });
    expect(distributionFindings(synth)).toEqual(['AwsSolutions-CFR1']);
    expect(distributionAcks(synth)).toEqual(['AwsSolutions-CFR1']);
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);
    expect(report.violations.filter((v) => v.severity !== 'warning')).toEqual([]);
  });
});
