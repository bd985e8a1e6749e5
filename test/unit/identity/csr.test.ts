import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidCsrError,
  MAX_CSR_PEM_LENGTH,
  validateCsr,
} from '../../../functions/identity/csr.js';
import { x509 } from '../../../functions/identity/x509.js';
import { createAgentKey } from '../../../infra/cli/agent-enroll.js';

type KeyParams = webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;

/** A CSR for a fresh key of the given kind, signed with `hash`. */
async function csrFor(
  keyParams: KeyParams,
  signing: Record<string, unknown>,
  name = 'CN=edge-1',
): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(keyParams, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: signing as never,
  });
  return csr.toString('pem');
}

const ec = (curve: string, hash = 'SHA-256') =>
  csrFor({ name: 'ECDSA', namedCurve: curve }, { name: 'ECDSA', hash });
const rsa = (bits: number) =>
  csrFor(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  );

async function refusal(pem: string): Promise<string> {
  let error: unknown;
  try {
    validateCsr(pem);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidCsrError);
  return (error as Error).message;
}

describe('validateCsr', () => {
  it('accepts the agent CLI CSR (EC P-256), whatever subject it names', async () => {
    const { csrPem, keyPem } = await createAgentKey('edge-1');
    const valid = await validateCsr(csrPem);
    expect(valid.keyType).toBe('EC P-256');
    expect(valid.signature).toBe('ECDSA with SHA-256');
    expect(valid.pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    expect(valid.pem).not.toContain('PRIVATE');
    // Normalised PEM: the same DER, 64-character lines, as x509 tools write it.
    expect(valid.pem).toBe(csrPem);
    expect(validateCsr(csrPem.replace(/\n/g, '\r\n')).pem).toBe(csrPem);
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // The subject is not trusted, so any subject passes validation.
    expect((await validateCsr(await ec('P-256'))).keyType).toBe('EC P-256');
  });

  it('accepts EC P-384 and RSA 2048, the keys AWS IoT signs', async () => {
    expect((await validateCsr(await ec('P-384', 'SHA-384'))).keyType).toBe('EC P-384');
    expect((await validateCsr(await rsa(2048))).keyType).toBe('RSA 2048');
  });

  it('refuses RSA under 2048 bits and curves other than P-256/P-384', async () => {
    expect(await refusal(await rsa(1024))).toMatch(/1024 bits; use at least 2048/);
    expect(await refusal(await ec('P-521', 'SHA-512'))).toMatch(/secp521r1; use P-256 or P-384/);
  });

  it('refuses a SHA-1 signature', async () => {
    expect(await refusal(await ec('P-256', 'SHA-1'))).toMatch(
      /signed with ECDSA with SHA-1; sign it with .*SHA-256/,
    );
  });

  it('refuses a CSR whose signature does not verify (subject altered after signing)', async () => {
    const pem = await ec('P-256');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('edge-1'));
    expect(at).toBeGreaterThan(0);
    der[at] = 'f'.charCodeAt(0);
    const altered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await refusal(altered)).toMatch(/signature does not verify/);
  });

  it('refuses DER with bytes after the request, or a truncated one', async () => {
    const der = Buffer.from((await ec('P-256')).replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const pem = (bytes: Buffer) =>
      `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await refusal(pem(Buffer.concat([der, Buffer.from([0])])))).toMatch(/does not parse/);
    expect(await refusal(pem(der.subarray(0, der.length - 1)))).toMatch(/does not parse/);
  });

  it('refuses what is not one PEM CSR', async () => {
    expect(await refusal('hello')).toMatch(/one PEM block/);
    const pem = await ec('P-256');
    expect(await refusal(pem + pem)).toMatch(/one PEM block/);
    expect(
      await refusal(
        '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
      ),
    ).toMatch(/does not parse/);
  });

  it('refuses a private key, saying to keep it on the agent', async () => {
    const { keyPem } = await createAgentKey('edge-1');
    expect(await refusal(keyPem)).toMatch(/private key: keep it on the agent/);
  });

  it('refuses text over the size limit before parsing it', async () => {
    expect(await refusal('A'.repeat(MAX_CSR_PEM_LENGTH + 1))).toMatch(/over 16384 characters/);
  });
});
