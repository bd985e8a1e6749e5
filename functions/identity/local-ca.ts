import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type { ValidCsr } from './csr.js';
import type {
  AgentIdentityProvider,
  CertificateRecord,
  CertificateRegistry,
  IssuedCertificate,
} from './provider.js';
import { x509 } from './x509.js';

/**
 * The local stack's certificate authority: it signs agents' CSRs (CN = agent
 * id, clientAuth only) and the local broker's server certificate. ECDSA P-256
 * with SHA-256 throughout. Its key and certificate live in the local stack's
 * data directory (local-ca-files.ts); nothing here touches the disk.
 */

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Agent certificates: a year, then rotate (POST /agents/{id}/credentials). */
export const AGENT_CERT_DAYS = 365;
export const CA_CERT_DAYS = 3650;
/** Backdated a little so an agent whose clock runs behind accepts a fresh certificate. */
const BACKDATE_MS = 5 * 60_000;
export const LOCAL_CA_NAME = 'CN=wirefleet local CA, O=wirefleet';

type Certificate = InstanceType<typeof x509.X509Certificate>;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** SHA-256 of the DER, as hex: the certificate id, locally and in AWS IoT alike. */
export function certificateId(der: ArrayBuffer | Uint8Array): string {
  return createHash('sha256')
    .update(der instanceof Uint8Array ? der : new Uint8Array(der))
    .digest('hex');
}

/** A positive 128-bit serial number (first byte 0x01-0x7f), as hex. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! % 0x7f) + 1;
  return bytes.toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

export class LocalCertificateAuthority {
  private constructor(
    private readonly key: CryptoKey,
    readonly certificate: Certificate,
  ) {}

  /** The CA certificate (PEM): what agents and the broker trust. */
  get certificatePem(): string {
    return this.certificate.toString('pem');
  }

  /** A new CA: a fresh P-256 key and a self-signed certificate for ten years. */
  static async create(
    now = Date.now(),
  ): Promise<{ ca: LocalCertificateAuthority; keyPem: string }> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: LOCAL_CA_NAME,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_CERT_DAYS * DAY_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return {
      ca: new LocalCertificateAuthority(keys.privateKey, certificate),
      keyPem: await keyPem(keys.privateKey),
    };
  }

  /** A CA from its PEM key (PKCS#8) and certificate. */
  static async load(
    keyPemText: string,
    certificatePem: string,
  ): Promise<LocalCertificateAuthority> {
    const certificate = new x509.X509Certificate(certificatePem);
    const key = await webcrypto.subtle.importKey(
      'pkcs8',
      x509.PemConverter.decodeFirst(keyPemText),
      EC,
      false,
      ['sign'],
    );
    return new LocalCertificateAuthority(key, certificate);
  }

  /**
   * Signs the agent's CSR. The subject is CN = agent id whatever the CSR
   * asked for, and nothing the CSR requests (extensions, SANs) is copied:
   * the certificate can authenticate a TLS client and do nothing else.
   */
  async signAgentCertificate(
    agentId: string,
    csr: ValidCsr,
    now = Date.now(),
  ): Promise<{ pem: string; id: string; notAfter: Date }> {
    const notAfter = new Date(now + AGENT_CERT_DAYS * DAY_MS);
    const certificate = await this.sign({
      subject: `CN=${agentId}`,
      publicKey: new Uint8Array(csr.spki),
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(csr.spki)),
      ],
    });
    return { pem: certificate.toString('pem'), id: certificateId(certificate.rawData), notAfter };
  }

  /**
   * A server certificate for the local broker, valid for the given hosts
   * (IP addresses and DNS names). Its key is made here and never written down.
   */
  async issueServerCertificate(
    hosts: string[],
    now = Date.now(),
  ): Promise<{ certificatePem: string; keyPem: string }> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const names = [...new Set(hosts)].map((host) => ({
      type: isIP(host) ? ('ip' as const) : ('dns' as const),
      value: host,
    }));
    const certificate = await this.sign({
      subject: 'CN=wirefleet local broker',
      publicKey: keys.publicKey,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + AGENT_CERT_DAYS * DAY_MS),
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certificatePem: certificate.toString('pem'), keyPem: await keyPem(keys.privateKey) };
  }

  private async sign(o: {
    subject: string;
    /** A key, or a SubjectPublicKeyInfo (DER). */
    publicKey: CryptoKey | Uint8Array;
    notBefore: Date;
    notAfter: Date;
    extensions: InstanceType<typeof x509.Extension>[];
  }): Promise<Certificate> {
    return x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: o.subject,
      issuer: this.certificate.subject,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      publicKey: o.publicKey,
      signingKey: this.key,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        ...o.extensions,
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate.publicKey),
      ],
    });
  }
}

/**
 * Agent identity on the local stack: the local CA signs, the registry
 * records, and the local broker (which checks the registry on every connect)
 * learns of deactivations at once so it can drop live connections, as AWS
 * IoT does within minutes.
 */
export class LocalCaIdentity implements AgentIdentityProvider {
  readonly kind = 'local-ca';
  readonly mqttUrl: string;
  readonly passwordLogin: boolean;
  private readonly ca: LocalCertificateAuthority;
  private readonly registry: CertificateRegistry;
  private readonly listeners = new Set<(agentId: string, certificateId: string) => void>();

  constructor(options: {
    ca: LocalCertificateAuthority;
    registry: CertificateRegistry;
    /** The broker's mqtts:// URL. */
    mqttUrl: string;
    /** Whether the broker also takes password logins (plain TCP). */
    passwordLogin: boolean;
  }) {
    this.ca = options.ca;
    this.registry = options.registry;
    this.mqttUrl = options.mqttUrl;
    this.passwordLogin = options.passwordLogin;
  }

  /** Locally the thing name is the agent id (no prefix). */
  clientId(agentId: string): string {
    return agentId;
  }

  async issue(agentId: string, csr: ValidCsr): Promise<IssuedCertificate> {
    const now = Date.now();
    const signed = await this.ca.signAgentCertificate(agentId, csr, now);
    const certificate: CertificateRecord = {
      id: signed.id,
      status: 'ACTIVE',
      issuedAt: new Date(now).toISOString(),
      notAfter: signed.notAfter.toISOString(),
    };
    await this.registry.activateCertificate(agentId, certificate);
    return { certificate, certificatePem: signed.pem, caPem: this.ca.certificatePem };
  }

  async deactivate(agentId: string, certificate: Pick<CertificateRecord, 'id'>): Promise<void> {
    await this.registry.deactivateCertificate(agentId, certificate.id);
    for (const listener of this.listeners) listener(agentId, certificate.id);
  }

  /** Called after a certificate is deactivated (revoked or replaced). */
  onDeactivated(listener: (agentId: string, certificateId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
