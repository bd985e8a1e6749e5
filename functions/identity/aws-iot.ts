import { X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateThingCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { Logger } from '../logger.js';
import { AMAZON_ROOT_CA_BUNDLE } from './amazon-root-cas.js';
import type { ValidCsr } from './csr.js';
import {
  type AgentIdentityProvider,
  type CertificateRecord,
  type CertificateRegistry,
  IdentityConflictError,
  IdentityUnavailableError,
  type IssuedCertificate,
} from './provider.js';

/**
 * Agent identity in AWS IoT Core: one thing per agent (`<prefix><agent id>`,
 * attribute agent_id), a certificate signed by AWS from the agent's CSR,
 * the agent policy and the thing attached to it. The certificate id goes to
 * the registry before anything is attached, so a failure half-way is always
 * findable; after a failure the certificate is deactivated and detached from
 * the thing. It is not deleted: the API role has no iot:DeleteCertificate
 * (infra/cloud/api.ts), and an inactive certificate authorises nothing.
 */

export interface AwsIotIdentityOptions {
  iot: IoTClient;
  registry: CertificateRegistry;
  /** The account's ATS data endpoint host (IOT_DATA_ENDPOINT), no scheme. */
  dataEndpoint: string;
  /** IOT_AGENT_POLICY. */
  policyName: string;
  /** IOT_THING_PREFIX, e.g. `wirefleet-`. */
  thingPrefix: string;
  logger: Logger;
}

const errorName = (error: unknown) => (error as { name?: string }).name ?? 'Error';

export class AwsIotIdentity implements AgentIdentityProvider {
  readonly kind = 'aws-iot';
  /** AWS IoT Core takes X.509 client certificates; passwords would need a custom authorizer. */
  readonly passwordLogin = false;
  readonly mqttUrl: string;

  constructor(private readonly o: AwsIotIdentityOptions) {
    this.mqttUrl = `mqtts://${o.dataEndpoint}:8883`;
  }

  /** The thing name, which the IoT policy demands as the MQTT client id. */
  clientId(agentId: string): string {
    return `${this.o.thingPrefix}${agentId}`;
  }

  async issue(agentId: string, csr: ValidCsr): Promise<IssuedCertificate> {
    const { iot, registry } = this.o;
    const thingName = this.clientId(agentId);
    await this.ensureThing(agentId, thingName);

    let created: { certificateArn: string; certificateId: string; certificatePem: string };
    try {
      const out = await iot.send(
        new CreateCertificateFromCsrCommand({
          certificateSigningRequest: csr.pem,
          setAsActive: true,
        }),
      );
      if (!out.certificateArn || !out.certificateId || !out.certificatePem) {
        // An id without the rest can still be cleaned up; without an id there is nothing to clean.
        if (out.certificateId) {
          await this.rollback(agentId, thingName, out.certificateId, out.certificateArn, {
            thing: false,
            step: 'CreateCertificateFromCsr (incomplete answer)',
          });
        }
        throw new IdentityUnavailableError(
          'AWS IoT CreateCertificateFromCsr answered without a certificate',
        );
      }
      created = {
        certificateArn: out.certificateArn,
        certificateId: out.certificateId,
        certificatePem: out.certificatePem,
      };
    } catch (error) {
      if (error instanceof IdentityUnavailableError) throw error;
      throw new IdentityUnavailableError(
        `AWS IoT CreateCertificateFromCsr failed (${errorName(error)})`,
        false,
        { cause: error },
      );
    }

    const { certificateArn: arn, certificateId: id, certificatePem } = created;
    const attached = { thing: false };
    let step = 'recording the certificate';
    try {
      await registry.recordPendingCertificate(agentId, { id, arn });
      step = 'AttachPolicy';
      await iot.send(new AttachPolicyCommand({ policyName: this.o.policyName, target: arn }));
      step = 'AttachThingPrincipal';
      await iot.send(
        new AttachThingPrincipalCommand({
          thingName,
          principal: arn,
          thingPrincipalType: 'EXCLUSIVE_THING',
        }),
      );
      attached.thing = true;
      step = 'activating the certificate in the registry';
      const certificate: CertificateRecord = {
        id,
        arn,
        status: 'ACTIVE',
        issuedAt: new Date().toISOString(),
        notAfter: notAfterOf(certificatePem),
      };
      await registry.activateCertificate(agentId, certificate);
      return { certificate, certificatePem, caPem: AMAZON_ROOT_CA_BUNDLE };
    } catch (error) {
      return await this.rollback(agentId, thingName, id, arn, { ...attached, step }, error);
    }
  }

  async deactivate(agentId: string, certificate: Pick<CertificateRecord, 'id' | 'arn'>) {
    try {
      await this.o.iot.send(
        new UpdateCertificateCommand({ certificateId: certificate.id, newStatus: 'INACTIVE' }),
      );
    } catch (error) {
      throw new IdentityUnavailableError(
        `AWS IoT UpdateCertificate INACTIVE failed for ${certificate.id} (${errorName(error)}); the certificate is still active, retry`,
        true,
        { cause: error },
      );
    }
    await this.o.registry.deactivateCertificate(agentId, certificate.id);
  }

  /**
   * CreateThing is idempotent for the same name and attributes. A thing that
   * exists with other settings is ours only if its agent_id attribute says so.
   */
  private async ensureThing(agentId: string, thingName: string): Promise<void> {
    try {
      await this.o.iot.send(
        new CreateThingCommand({
          thingName,
          attributePayload: { attributes: { agent_id: agentId } },
        }),
      );
      return;
    } catch (error) {
      if (errorName(error) !== 'ResourceAlreadyExistsException') {
        throw new IdentityUnavailableError(
          `AWS IoT CreateThing ${thingName} failed (${errorName(error)})`,
          false,
          { cause: error },
        );
      }
    }
    let owner: string | undefined;
    try {
      const thing = await this.o.iot.send(new DescribeThingCommand({ thingName }));
      owner = thing.attributes?.agent_id;
    } catch (error) {
      throw new IdentityUnavailableError(
        `AWS IoT DescribeThing ${thingName} failed (${errorName(error)})`,
        false,
        { cause: error },
      );
    }
    if (owner !== agentId) {
      throw new IdentityConflictError(
        `the IoT thing ${thingName} exists with agent_id=${owner ?? '(none)'}; it is not this agent's`,
      );
    }
  }

  /**
   * Undoes a certificate after a failure: INACTIVE first (that alone stops it
   * connecting), then off the thing, then the registry's pending note goes.
   * Always throws IdentityUnavailableError, saying whether the certificate
   * may still be active.
   */
  private async rollback(
    agentId: string,
    thingName: string,
    certificateId: string,
    arn: string | undefined,
    done: { thing: boolean; step: string },
    cause?: unknown,
  ): Promise<never> {
    const { iot, logger } = this.o;
    const failed = `agent registration failed at ${done.step}${cause ? ` (${errorName(cause)})` : ''}`;
    try {
      await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    } catch (error) {
      logger.error('certificate left active after a failed registration', {
        agentId,
        certificateId,
        error: errorName(error),
      });
      throw new IdentityUnavailableError(
        `${failed}; certificate ${certificateId} could not be deactivated: revoke the agent`,
        true,
        { cause },
      );
    }
    try {
      // The thing keeps only certificates that work; the policy on an inactive one grants nothing.
      if (done.thing && arn) {
        await iot.send(new DetachThingPrincipalCommand({ thingName, principal: arn }));
      }
      await this.o.registry.clearPendingCertificate(agentId, certificateId);
    } catch (error) {
      // Inactive, so harmless; it stays recorded as pending for an operator to look at.
      logger.warn('an inactive certificate was not cleaned up', {
        agentId,
        certificateId,
        error: errorName(error),
      });
    }
    throw new IdentityUnavailableError(`${failed}; the new certificate was deactivated`, false, {
      cause,
    });
  }
}

/** When AWS's certificate expires (it built it; we only read its date). */
function notAfterOf(certificatePem: string): string | undefined {
  try {
    const ms = Date.parse(new X509Certificate(certificatePem).validTo);
    return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
  } catch {
    return undefined;
  }
}
