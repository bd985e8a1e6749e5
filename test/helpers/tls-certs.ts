import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Throwaway PKI for mTLS tests, made with the openssl CLI in a temp dir: a CA,
 * a server certificate for 127.0.0.1, client certificates whose CN is an agent
 * id, and a second, untrusted CA for the negative cases. EC P-256 keys: quick
 * to make, and mosquitto and Node take them. Private keys are mode 0600, as the
 * agent's config loader demands of key files.
 */

export const OPENSSL = 'openssl';
const run = promisify(execFile);

/** Paths of one certificate and its key (PEM). */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa extends CertFiles {
  name: string;
  /** A leaf signed by this CA; the CN is `cn` (an agent id for client certificates). */
  issueClient(cn: string, fileStem?: string): Promise<CertFiles>;
  issueServer(fileStem?: string): Promise<CertFiles>;
}

export interface TestPki {
  /** The temp dir everything lives in. */
  dir: string;
  /** The CA the broker trusts and the agents verify the broker with. */
  ca: TestCa;
  /** Broker certificate, signed by `ca`, subjectAltName IP:127.0.0.1. */
  server: CertFiles;
  /** A CA nobody trusts, for certificates that must be refused. */
  rogueCa: TestCa;
  /** Client certificate with CN = agentId, signed by `ca`. */
  client(agentId: string): Promise<CertFiles>;
  /** Client certificate with CN = agentId, signed by `rogueCa`. */
  rogueClient(agentId: string): Promise<CertFiles>;
  /** Removes the temp dir. */
  remove(): Promise<void>;
}

/** Extensions per certificate kind; the subject comes from -subj. */
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
const DAYS = '2';

/** Fails with one clear line when the openssl CLI is missing. */
export async function assertOpenssl(): Promise<string> {
  try {
    const { stdout } = await run(OPENSSL, ['version']);
    return stdout.trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'the openssl CLI is not installed (apt-get install openssl)'
        : `openssl does not run: ${(error as Error).message}`,
    );
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run(OPENSSL, args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/** CNs end up in -subj, where '/' and '=' are syntax. */
function checkCn(cn: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(cn)) throw new Error(`unusable CN "${cn}"`);
  return cn;
}

async function makeCa(dir: string, config: string, name: string): Promise<TestCa> {
  const ca: CertFiles = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  await openssl([
    'req',
    '-x509',
    '-new',
    ...KEY_ARGS,
    '-config',
    config,
    '-extensions',
    'ca',
    '-subj',
    `/O=wirefleet tests/CN=${checkCn(name)}`,
    '-days',
    DAYS,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
  ]);
  await chmod(ca.key, 0o600);

  const issue = async (cn: string, kind: 'client' | 'server', stem: string) => {
    const leaf: CertFiles = {
      cert: path.join(dir, `${stem}.crt`),
      key: path.join(dir, `${stem}.key`),
    };
    const csr = path.join(dir, `${stem}.csr`);
    await openssl([
      'req',
      '-new',
      ...KEY_ARGS,
      '-config',
      config,
      '-subj',
      `/CN=${checkCn(cn)}`,
      '-keyout',
      leaf.key,
      '-out',
      csr,
    ]);
    await chmod(leaf.key, 0o600);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      DAYS,
      '-extfile',
      config,
      '-extensions',
      kind,
      '-out',
      leaf.cert,
    ]);
    await rm(csr, { force: true });
    return leaf;
  };

  return {
    ...ca,
    name,
    issueClient: (cn, stem = `${name}-client-${cn}`) => issue(cn, 'client', stem),
    issueServer: (stem = `${name}-server`) => issue('127.0.0.1', 'server', stem),
  };
}

/** Makes the CA, the rogue CA and the server certificate; client certificates on demand. */
export async function createTestPki(): Promise<TestPki> {
  await assertOpenssl();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-pki-'));
  try {
    const config = path.join(dir, 'openssl.cnf');
    await writeFile(config, OPENSSL_CONFIG);
    const ca = await makeCa(dir, config, 'ca');
    const rogueCa = await makeCa(dir, config, 'rogue-ca');
    const server = await ca.issueServer('server');
    return {
      dir,
      ca,
      server,
      rogueCa,
      client: (agentId) => ca.issueClient(agentId, `client-${agentId}`),
      rogueClient: (agentId) => rogueCa.issueClient(agentId, `rogue-client-${agentId}`),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
