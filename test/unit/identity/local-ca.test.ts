import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCsr } from '../../../functions/identity/csr.js';
import {
  AGENT_CERT_DAYS,
  certificateId,
  LocalCertificateAuthority,
} from '../../../functions/identity/local-ca.js';
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  LocalCaError,
  loadOrCreateLocalCa,
} from '../../../functions/identity/local-ca-files.js';
import { createAgentKey } from '../../../infra/cli/agent-enroll.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const DAY_MS = 86_400_000;

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-local-ca-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('LocalCertificateAuthority', () => {
  it('signs an agent CSR: verifies against the CA, CN = agent id, clientAuth only, a year', async () => {
    const { ca } = await LocalCertificateAuthority.create();
    // The CSR asks for another name: the CA decides the subject.
    const { csrPem, keyPem } = await createAgentKey('someone-else');
    const now = Date.parse('2030-01-15T12:00:00Z');
    const signed = await ca.signAgentCertificate('edge-7', await validateCsr(csrPem), now);

    const caCert = new X509Certificate(ca.certificatePem);
    const cert = new X509Certificate(signed.pem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.subject).toBe('CN=edge-7');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    // The certificate carries the agent's public key, so only its private key can use it.
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(Date.parse(cert.validTo)).toBe(
      Math.floor((now + AGENT_CERT_DAYS * DAY_MS) / 1000) * 1000,
    );
    expect(Date.parse(cert.validFrom)).toBeLessThan(now);
    expect(signed.notAfter.getTime()).toBe(now + AGENT_CERT_DAYS * DAY_MS);
    // The id is the SHA-256 of the DER, as AWS IoT's certificateId.
    expect(signed.id).toBe(createHash('sha256').update(cert.raw).digest('hex'));
    expect(certificateId(new Uint8Array(cert.raw))).toBe(signed.id);

    // Another CA's certificate does not verify it.
    const { ca: other } = await LocalCertificateAuthority.create();
    expect(cert.verify(new X509Certificate(other.certificatePem).publicKey)).toBe(false);
  });

  it('is a CA for one level: basic constraints, keyCertSign', async () => {
    const { ca } = await LocalCertificateAuthority.create();
    const caCert = new X509Certificate(ca.certificatePem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toContain('CN=wirefleet local CA');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
  });

  it('issues the broker a serverAuth certificate for its hosts, with a key it never stores', async () => {
    const { ca } = await LocalCertificateAuthority.create();
    const server = await ca.issueServerCertificate(['127.0.0.1', '::1', 'localhost']);
    const cert = new X509Certificate(server.certificatePem);
    expect(cert.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });

  it('round-trips through its PEM key and certificate', async () => {
    const { ca, keyPem } = await LocalCertificateAuthority.create();
    const loaded = await LocalCertificateAuthority.load(keyPem, ca.certificatePem);
    const { csrPem } = await createAgentKey('edge-8');
    const signed = await loaded.signAgentCertificate('edge-8', await validateCsr(csrPem));
    expect(
      new X509Certificate(signed.pem).verify(new X509Certificate(ca.certificatePem).publicKey),
    ).toBe(true);
  });
});

describe('loadOrCreateLocalCa (the data directory)', () => {
  it('creates the key 0600 and the certificate on first start, and keeps them after', async () => {
    const dir = path.join(tempDir(), 'ca');
    const first = await loadOrCreateLocalCa(dir);
    expect(first.created).toBe(true);
    expect(statSync(first.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const again = await loadOrCreateLocalCa(dir);
    expect(again.created).toBe(false);
    expect(again.ca.certificatePem).toBe(first.ca.certificatePem);
  });

  it('refuses a key others may read', async () => {
    const dir = tempDir();
    const { keyFile } = await loadOrCreateLocalCa(dir);
    chmodSync(keyFile, 0o644);
    await expect(loadOrCreateLocalCa(dir)).rejects.toThrow(LocalCaError);
    await expect(loadOrCreateLocalCa(dir)).rejects.toThrow(/chmod 600/);
  });

  it('refuses a half-present CA instead of making a new one over it', async () => {
    const dir = tempDir();
    await loadOrCreateLocalCa(dir);
    unlinkSync(path.join(dir, CA_CERT_FILE));
    await expect(loadOrCreateLocalCa(dir)).rejects.toThrow(/incomplete \(only ca.key\)/);
  });

  it('refuses a key that is not the certificate’s kind of key', async () => {
    const dir = tempDir();
    await loadOrCreateLocalCa(dir);
    writeFileSync(path.join(dir, CA_KEY_FILE), 'not a key', { mode: 0o600 });
    await expect(loadOrCreateLocalCa(dir)).rejects.toThrow(/does not load/);
  });
});
