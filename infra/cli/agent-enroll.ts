import { webcrypto } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { x509 } from '../../functions/identity/x509.js';

/**
 * The agent's side of certificate registration, shared by `wirefleet agent
 * register` and the local agent of `npm start`: make an ECDSA P-256 key here,
 * build a PKCS#10 CSR (CN = agent id) with it, and send the API only the CSR.
 */

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface AgentKey {
  /** PKCS#8 PEM: written 0600 on this host, never sent. */
  keyPem: string;
  csrPem: string;
}

export async function createAgentKey(agentId: string): Promise<AgentKey> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${agentId}`,
    keys,
    signingAlgorithm: SIGNING,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  // PEM files end with a newline; x509 leaves it off.
  return {
    keyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`,
    csrPem: `${csr.toString('pem')}\n`,
  };
}

/** What POST /agents (and /credentials) answers for a CSR. */
export const certificateAnswerSchema = z.object({
  agent_id: z.string(),
  mqtt: z.object({
    url: z.string().min(1),
    client_id: z.string().min(1),
    topic_prefix: z.string(),
  }),
  certificate: z.object({
    certificate_pem: z.string().includes('BEGIN CERTIFICATE'),
    ca_pem: z.string().includes('BEGIN CERTIFICATE'),
    certificate_id: z.string(),
    not_after: z.string().optional(),
  }),
});
export type CertificateAnswer = z.infer<typeof certificateAnswerSchema>;

/** The API answered with an error (or could not be reached); the message is the API's own. */
export class RegistrationRefusedError extends Error {
  override readonly name = 'RegistrationRefusedError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** POSTs JSON with the bearer token; returns the parsed answer, or throws RegistrationRefusedError. */
export async function postToApi(
  api: string,
  token: string,
  pathname: string,
  body: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${api.replace(/\/+$/, '')}${pathname}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new RegistrationRefusedError(
      `cannot reach the API at ${api}: ${(error as Error).message}`,
      0,
      undefined,
    );
  }
  const answer = (await response.json().catch(() => ({}))) as {
    error?: { code?: string; message?: string };
  };
  if (!response.ok) {
    throw new RegistrationRefusedError(
      answer.error?.message ?? `HTTP ${response.status}`,
      response.status,
      answer.error?.code,
    );
  }
  return answer;
}

/** Registers the agent (or, with `rotate`, gives it a new certificate) for the CSR. */
export async function requestCertificate(o: {
  api: string;
  token: string;
  agentId: string;
  csrPem: string;
  rotate?: boolean;
}): Promise<CertificateAnswer> {
  const answer = o.rotate
    ? await postToApi(o.api, o.token, `/api/v1/agents/${o.agentId}/credentials`, {
        csr: o.csrPem,
      })
    : await postToApi(o.api, o.token, '/api/v1/agents', { agent_id: o.agentId, csr: o.csrPem });
  const parsed = certificateAnswerSchema.safeParse(answer);
  if (!parsed.success) {
    throw new RegistrationRefusedError(
      'the API answered without a certificate (is it an older wirefleet?)',
      200,
      undefined,
    );
  }
  return parsed.data;
}

/** Where an agent keeps its certificate login (the config's mqtt.key_file, cert_file, ca_file). */
export interface CertificateFiles {
  key_file: string;
  cert_file: string;
  ca_file: string;
}

/**
 * A new key and certificate for an agent that has files already: the new key
 * waits beside the old one (`<key>.new`, 0600, created exclusively) until the
 * API has signed its CSR, then replaces it, so a refusal leaves the agent
 * with the login it had. `rotate` asks POST /agents/{id}/credentials (the
 * API deactivates the old certificate once the new one is in place);
 * otherwise POST /agents registers the agent.
 */
export async function renewCertificate(o: {
  api: string;
  token: string;
  agentId: string;
  files: CertificateFiles;
  rotate: boolean;
}): Promise<CertificateAnswer> {
  const { keyPem, csrPem } = await createAgentKey(o.agentId);
  const newKey = `${o.files.key_file}.new`;
  await rm(newKey, { force: true });
  await writeFile(newKey, keyPem, { mode: 0o600, flag: 'wx' });
  let answer: CertificateAnswer;
  try {
    answer = await requestCertificate({ ...o, csrPem });
  } catch (error) {
    await rm(newKey, { force: true });
    throw error;
  }
  await rename(newKey, o.files.key_file);
  await writeFresh(o.files.cert_file, answer.certificate.certificate_pem, 0o644);
  await writeFresh(o.files.ca_file, answer.certificate.ca_pem, 0o644);
  return answer;
}

/** Replaces a file, never writing through a file or link that was there before. */
export async function writeFresh(file: string, text: string, mode: number): Promise<void> {
  await rm(file, { force: true });
  await writeFile(file, text, { mode, flag: 'wx' });
}
