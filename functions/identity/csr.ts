import { createPublicKey, verify } from 'node:crypto';

/**
 * PKCS#10 certificate signing requests from agents (RFC 2986): parsed, the
 * signature checked with Node's crypto, and limited to the keys AWS IoT's
 * CreateCertificateFromCsr takes (EC P-256/P-384, RSA of 2048 bits or more)
 * and the signatures it accepts (ECDSA or PKCS#1 v1.5 with SHA-256/384/512).
 * The subject is not trusted: the certificate's CN is always the agent id.
 * Only the few DER fields needed are read here, so the API Lambda carries no
 * X.509 library.
 */

/** Far above any real CSR (an RSA-4096 one is about 1.7 KB of PEM). */
export const MAX_CSR_PEM_LENGTH = 16 * 1024;

const PEM_BLOCK =
  /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----$/;
const EC_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384' };
const MIN_RSA_BITS = 2048;

/** Signature algorithm OIDs → the hash to verify with (null: known, refused). */
const SIGNATURES: Record<string, { name: string; hash: string | null }> = {
  '1.2.840.10045.4.3.2': { name: 'ECDSA with SHA-256', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA with SHA-384', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ECDSA with SHA-512', hash: 'sha512' },
  '1.2.840.113549.1.1.11': { name: 'RSA with SHA-256', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'RSA with SHA-384', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'RSA with SHA-512', hash: 'sha512' },
  '1.2.840.10045.4.1': { name: 'ECDSA with SHA-1', hash: null },
  '1.2.840.113549.1.1.5': { name: 'RSA with SHA-1', hash: null },
  '1.2.840.113549.1.1.4': { name: 'RSA with MD5', hash: null },
  '1.2.840.113549.1.1.10': { name: 'RSASSA-PSS', hash: null },
};

export type CsrKeyType = 'EC P-256' | 'EC P-384' | `RSA ${number}`;

export interface ValidCsr {
  /** Normalised PEM (one block, LF line ends): what goes to AWS IoT. */
  pem: string;
  /** The requester's public key (SubjectPublicKeyInfo, DER): what the certificate carries. */
  spki: Buffer;
  keyType: CsrKeyType;
  /** The signature algorithm, for messages and logs. */
  signature: string;
}

/** The CSR is not one we sign; the message says why, for the API's 400 invalid_csr. */
export class InvalidCsrError extends Error {
  override readonly name = 'InvalidCsrError';
}

export function validateCsr(text: string): ValidCsr {
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
  const der = Buffer.from(block[2]!.replace(/\s/g, ''), 'base64');
  let parts: CsrParts;
  try {
    parts = parseCsr(der);
  } catch {
    throw new InvalidCsrError('not a PKCS#10 certificate signing request (the DER does not parse)');
  }
  const keyType = describeKey(parts.spki);
  const algorithm = SIGNATURES[parts.signatureOid];
  if (!algorithm?.hash) {
    throw new InvalidCsrError(
      `signed with ${algorithm?.name ?? `an unsupported algorithm (${parts.signatureOid})`}; sign it with ECDSA or RSA (PKCS#1 v1.5) and SHA-256, SHA-384 or SHA-512`,
    );
  }
  if (algorithm.name.startsWith('ECDSA') !== keyType.startsWith('EC')) {
    throw new InvalidCsrError(
      `signed with ${algorithm.name}, which does not fit its ${keyType} key`,
    );
  }
  let verified = false;
  try {
    const key = createPublicKey({ key: parts.spki, format: 'der', type: 'spki' });
    verified = verify(algorithm.hash, parts.tbs, key, parts.signature);
  } catch {
    verified = false;
  }
  if (!verified) {
    throw new InvalidCsrError(
      'its signature does not verify: it was altered, or signed with a key other than the one it holds',
    );
  }
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    pem: `-----BEGIN CERTIFICATE REQUEST-----\n${base64}${base64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE REQUEST-----\n`,
    spki: parts.spki,
    keyType,
    signature: algorithm.name,
  };
}

function describeKey(spki: Buffer): CsrKeyType {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
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

// --- The DER of a CertificationRequest, just enough of it -------------------

interface CsrParts {
  /** certificationRequestInfo, as signed. */
  tbs: Buffer;
  spki: Buffer;
  signatureOid: string;
  signature: Buffer;
}

interface Tlv {
  tag: number;
  /** Where the value starts and ends; `start` of the whole element is `from`. */
  from: number;
  valueStart: number;
  end: number;
}

/** One definite-length DER element at `at`, inside `limit`. */
function readTlv(der: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new RangeError('truncated');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let valueStart = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    // Indefinite lengths are BER, not DER; four bytes are far beyond the size limit anyway.
    if (bytes === 0 || bytes > 4 || valueStart + bytes > limit) throw new RangeError('bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[valueStart + i]!;
    valueStart += bytes;
  }
  const end = valueStart + length;
  if (end > limit) throw new RangeError('truncated');
  return { tag, from: at, valueStart, end };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.valueStart; at < parent.end; ) {
    const tlv = readTlv(der, at, parent.end);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

function expectTag(tlv: Tlv | undefined, tag: number): Tlv {
  if (tlv?.tag !== tag) throw new RangeError(`expected tag ${tag}`);
  return tlv;
}

function decodeOid(bytes: Buffer): string {
  if (bytes.length === 0) throw new RangeError('empty OID');
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OID = 0x06;
const ATTRIBUTES = 0xa0;

function parseCsr(der: Buffer): CsrParts {
  const top = expectTag(readTlv(der, 0, der.length), SEQUENCE);
  if (top.end !== der.length) throw new RangeError('trailing bytes');
  const [info, algorithm, signature, ...rest] = children(der, top);
  if (rest.length > 0) throw new RangeError('extra fields');
  const [version, subject, spki, attributes] = children(der, expectTag(info, SEQUENCE));
  const v = expectTag(version, INTEGER);
  if (v.end !== v.valueStart + 1 || der[v.valueStart] !== 0) throw new RangeError('not version 1');
  expectTag(subject, SEQUENCE);
  expectTag(spki, SEQUENCE);
  expectTag(attributes, ATTRIBUTES);
  const oid = expectTag(children(der, expectTag(algorithm, SEQUENCE))[0], OID);
  const bits = expectTag(signature, BIT_STRING);
  // A BIT STRING's first byte counts unused bits; a signature uses them all.
  if (der[bits.valueStart] !== 0) throw new RangeError('signature has unused bits');
  return {
    tbs: der.subarray(info!.from, info!.end),
    spki: der.subarray(spki!.from, spki!.end),
    signatureOid: decodeOid(der.subarray(oid.valueStart, oid.end)),
    signature: der.subarray(bits.valueStart + 1, bits.end),
  };
}
