import { createPublicKey } from 'node:crypto';
import { x509 } from './x509.js';

/**
 * PKCS#10 certificate signing requests from agents: parsed, signature
 * checked, and limited to the keys AWS IoT's CreateCertificateFromCsr takes
 * (EC P-256/P-384, RSA of 2048 bits or more) and the signature hashes it
 * accepts (SHA-256/384/512). The subject is not trusted: the certificate's
 * CN is always the agent id.
 */

/** Far above any real CSR (an RSA-4096 one is about 1.7 KB of PEM). */
export const MAX_CSR_PEM_LENGTH = 16 * 1024;

const PEM_BLOCK =
  /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----\s*$/;
const SIGNATURE_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);
const EC_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384' };
const MIN_RSA_BITS = 2048;

export type CsrKeyType = 'EC P-256' | 'EC P-384' | `RSA ${number}`;

export interface ValidCsr {
  /** Normalised PEM (one block, LF line ends): what goes to AWS IoT. */
  pem: string;
  request: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  keyType: CsrKeyType;
}

/** The CSR is not one we sign; the message says why, for the API's 400 invalid_csr. */
export class InvalidCsrError extends Error {
  override readonly name = 'InvalidCsrError';
}

export async function validateCsr(text: string): Promise<ValidCsr> {
  if (text.length > MAX_CSR_PEM_LENGTH) {
    throw new InvalidCsrError(`the CSR is over ${MAX_CSR_PEM_LENGTH} characters`);
  }
  if (/PRIVATE KEY-----/.test(text)) {
    throw new InvalidCsrError(
      'that is a private key: keep it on the agent and send only its certificate signing request',
    );
  }
  const block = PEM_BLOCK.exec(text.trim());
  if (!block) {
    throw new InvalidCsrError(
      'must be one PEM block "-----BEGIN CERTIFICATE REQUEST-----" ... "-----END CERTIFICATE REQUEST-----"',
    );
  }
  let request: ValidCsr['request'];
  try {
    request = new x509.Pkcs10CertificateRequest(Buffer.from(block[2]!, 'base64'));
  } catch {
    throw new InvalidCsrError('not a PKCS#10 certificate signing request (the DER does not parse)');
  }
  const keyType = describeKey(request.publicKey.rawData);
  const hash = (request.signatureAlgorithm as { hash?: { name?: string } }).hash?.name ?? '';
  if (!SIGNATURE_HASHES.has(hash)) {
    throw new InvalidCsrError(
      `signed with ${hash || 'an unsupported algorithm'}; sign it with SHA-256, SHA-384 or SHA-512`,
    );
  }
  let verified = false;
  try {
    verified = await request.verify();
  } catch {
    verified = false;
  }
  if (!verified) {
    throw new InvalidCsrError(
      'its signature does not verify: it was altered, or signed with a key other than the one it holds',
    );
  }
  return { pem: request.toString('pem').replace(/\r\n/g, '\n'), request, keyType };
}

function describeKey(spki: ArrayBuffer): CsrKeyType {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new InvalidCsrError('its public key does not parse');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[details.namedCurve ?? ''];
    if (curve) return `EC ${curve}` as CsrKeyType;
    throw new InvalidCsrError(
      `its EC key is on ${details.namedCurve ?? 'an unknown curve'}; use P-256 or P-384`,
    );
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits >= MIN_RSA_BITS) return `RSA ${bits}`;
    throw new InvalidCsrError(`its RSA key has ${bits} bits; use at least ${MIN_RSA_BITS}`);
  }
  throw new InvalidCsrError(
    `its key is ${key.asymmetricKeyType ?? 'of an unknown type'}; use EC P-256/P-384 or RSA (2048 bits or more)`,
  );
}
