import type { ValidCsr } from './csr.js';

/**
 * Agent identity: an X.509 certificate signed from the agent's CSR, so the
 * private key never leaves the agent. Two implementations: the local stack's
 * own CA (local-ca.ts) and AWS IoT Core (aws-iot.ts). Both record the
 * agent's current certificate in the registry (the agents table), which is
 * what the local broker checks on every connect and what revocation flips.
 */

export type CertificateStatus = 'ACTIVE' | 'INACTIVE';

/** The agent's current certificate, as the registry keeps it. */
export interface CertificateRecord {
  /** 64 hex characters: the SHA-256 of the certificate's DER (AWS IoT's certificateId is the same). */
  id: string;
  /** AWS IoT's certificate ARN (the principal policies attach to); absent locally. */
  arn?: string | undefined;
  status: CertificateStatus;
  /** ISO 8601. */
  issuedAt: string;
  /** ISO 8601; when the certificate stops being valid. */
  notAfter?: string | undefined;
}

/** A certificate made but not yet usable (AWS IoT: before its policy and thing are attached). */
export interface PendingCertificate {
  id: string;
  arn?: string | undefined;
}

/** The part of the agent registry an identity provider writes. */
export interface CertificateRegistry {
  /** Notes a certificate that exists before it is attached, so a failure half-way can be found. */
  recordPendingCertificate(agentId: string, pending: PendingCertificate): Promise<void>;
  /** Clears the pending note once that certificate has been cleaned up. */
  clearPendingCertificate(agentId: string, certificateId: string): Promise<void>;
  /**
   * Makes the certificate the agent's current, active one (replacing any
   * other, and any password login).
   */
  activateCertificate(agentId: string, certificate: CertificateRecord): Promise<void>;
  /** Marks the certificate INACTIVE if it is the agent's current one; false otherwise. */
  deactivateCertificate(agentId: string, certificateId: string): Promise<boolean>;
}

export interface IssuedCertificate {
  certificate: CertificateRecord;
  certificatePem: string;
  /** The CA bundle the agent verifies its broker with (PEM, one or more certificates). */
  caPem: string;
}

export interface AgentIdentityProvider {
  readonly kind: 'local-ca' | 'aws-iot';
  /** Whether agents may instead log in with a password (a broker without TLS); never in AWS IoT. */
  readonly passwordLogin: boolean;
  /** Where agents with a certificate connect (mqtts://). */
  readonly mqttUrl: string;
  /** The MQTT client id the broker demands of the agent (the IoT thing name). */
  clientId(agentId: string): string;
  /**
   * Signs the CSR for the agent (CN = agent id) and records the certificate
   * as its current, active one. Throws IdentityUnavailableError when the
   * authority fails; nothing usable is left behind unless it says so.
   */
  issue(agentId: string, csr: ValidCsr): Promise<IssuedCertificate>;
  /** The certificate can no longer connect; the registry marks it INACTIVE if it is current. */
  deactivate(agentId: string, certificate: Pick<CertificateRecord, 'id' | 'arn'>): Promise<void>;
}

/** The certificate authority (AWS IoT, or the local CA's store) failed; the API answers 503. */
export class IdentityUnavailableError extends Error {
  override readonly name = 'IdentityUnavailableError';
  constructor(
    message: string,
    /** A certificate that could not be deactivated after a failure: the registry still names it. */
    readonly certificateLeftActive = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The agent's identity at the authority belongs to something else (e.g. a foreign IoT thing). */
export class IdentityConflictError extends Error {
  override readonly name = 'IdentityConflictError';
}

/** The environment names an identity provider but leaves out what it needs. */
export class IdentityConfigError extends Error {
  override readonly name = 'IdentityConfigError';
}
