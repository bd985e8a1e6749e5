import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../functions/identity/x509.js';
import { createAgentKey } from '../../infra/cli/agent-enroll.js';
import { agentTopic } from '../../protocol/agent-messages.js';
import { eventually, startAgentProcess, wirefleet } from '../helpers/agent-process.js';
import { writePcap } from '../helpers/capture-gen.js';
import { everythingScenario, SHORT_TIMEOUTS } from '../helpers/capture-scenarios.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { freePort } from '../helpers/mosquitto.js';
import { assertOpenssl, createTestPki, OPENSSL, type TestPki } from '../helpers/tls-certs.js';

/**
 * Certificate registration end to end, with real processes: `wirefleet agent
 * register` (the CLI) against a running local stack, through a recording
 * proxy that keeps every request body; `wirefleet agent run` over mTLS to
 * aedes; and direct MQTT clients for what the broker must refuse (revoked,
 * replaced, rogue CA, another client id).
 */

const run = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-register-'));
const capture = path.join(work, 'everything.pcap');
const everything = everythingScenario();
writeFileSync(capture, writePcap(everything.frames));

let stack: TestStack;
let proxy: Server;
let proxyUrl: string;
let pki: TestPki;
/** Every request the CLI sent to the API. */
const requests: { method: string; url: string; body: string }[] = [];

beforeAll(async () => {
  await assertOpenssl();
  pki = await createTestPki();
  stack = await startTestStack();
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: req.method ?? '', url: req.url ?? '', body });
    const answer = await fetch(`${stack.apiUrl}${req.url}`, {
      method: req.method ?? 'GET',
      headers: {
        authorization: String(req.headers.authorization ?? ''),
        'content-type': String(req.headers['content-type'] ?? 'application/json'),
      },
      ...(body ? { body } : {}),
    });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await stack?.stop();
  await pki?.remove();
  rmSync(work, { recursive: true, force: true });
});

async function register(id: string, extra: string[] = []) {
  const out = path.join(work, `${id}.agent.json`);
  const { stdout } = await wirefleet(
    [
      'agent',
      'register',
      '--id',
      id,
      '--out',
      out,
      '--api',
      proxyUrl,
      '--control-listen',
      `127.0.0.1:${await freePort()}`,
      '--file',
      capture,
      ...extra,
    ],
    { WIREFLEET_API_TOKEN: stack.token },
  );
  const config = JSON.parse(readFileSync(out, 'utf8'));
  return { out, stdout, config, stateDir: path.join(work, `${id}-state`) };
}

/**
 * An MQTT connection; resolves once connected, or rejects with the refusal
 * (CONNACK error, TLS alert, or a close before any CONNACK: a TLS 1.3 server
 * refuses a client certificate after the client thinks the handshake is done).
 */
function connectWith(url: string, options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => {
      if (!client.connected) reject(new Error('closed before CONNACK'));
    });
  });
}

/** Over mTLS with these PEMs, trusting the stack's CA. */
const connectTls = (o: { clientId: string; cert?: string | Buffer; key?: string | Buffer }) =>
  connectWith(stack.mqttsUrl!, { ...o, ca: readFileSync(stack.caFile) });

const filesOf = (stateDir: string) => ({
  key: readFileSync(path.join(stateDir, 'agent.key')),
  cert: readFileSync(path.join(stateDir, 'agent.crt')),
});

async function flowCount(agentId: string): Promise<number> {
  const res = await stack.api(`/api/v1/flows?agent_id=${agentId}&limit=1000`);
  expect(res.status).toBe(200);
  return ((await res.json()) as unknown[]).length;
}

describe('wirefleet agent register (certificate) against the local stack', () => {
  it('makes the key here (0600), sends only a CSR, and writes the certificate, CA and an mqtts config', async () => {
    const { config, stateDir, stdout, out } = await register('reg-edge-1');
    expect(stdout).toMatch(/registered \(certificate; key .*agent\.key stays on this host\)/);

    // What left this host: the agent id and a CSR, nothing else.
    const sent = requests.filter((r) => r.method === 'POST' && r.url === '/api/v1/agents');
    expect(sent).toHaveLength(1);
    const body = JSON.parse(sent[0]!.body) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['agent_id', 'csr']);
    expect(body.agent_id).toBe('reg-edge-1');
    expect(body.csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const keyPem = readFileSync(path.join(stateDir, 'agent.key'), 'utf8');
    const keyBase64 = keyPem.replace(/-----[^-]+-----|\s/g, '');
    const privateScalar = createPrivateKey(keyPem).export({ format: 'jwk' }).d!;
    for (const request of requests) {
      expect(request.body).not.toContain('PRIVATE KEY');
      expect(request.body).not.toContain(keyBase64.slice(0, 48));
      expect(request.body).not.toContain(privateScalar);
    }
    // The CSR holds this key's public half.
    const csr = new x509.Pkcs10CertificateRequest(body.csr!);
    const csrKey = Buffer.from(csr.publicKey.rawData);
    const publicDer = createPublicKey(keyPem).export({ format: 'der', type: 'spki' });
    expect(csrKey.equals(publicDer)).toBe(true);

    // Files and modes.
    const mode = (file: string) => statSync(file).mode & 0o777;
    expect(mode(path.join(stateDir, 'agent.key'))).toBe(0o600);
    expect(statSync(path.join(stateDir, 'agent.key')).uid).toBe(process.getuid!());
    expect(mode(path.join(stateDir, 'agent.crt'))).toBe(0o644);
    expect(mode(path.join(stateDir, 'ca.crt'))).toBe(0o644);
    expect(mode(out)).toBe(0o600);
    expect(mode(stateDir)).toBe(0o700);

    // The config: mqtts, the client id, the three TLS files, no password.
    expect(config.mqtt).toEqual({
      url: stack.mqttsUrl,
      client_id: 'reg-edge-1',
      ca_file: path.join(stateDir, 'ca.crt'),
      cert_file: path.join(stateDir, 'agent.crt'),
      key_file: path.join(stateDir, 'agent.key'),
    });

    // The certificate: CN = agent id, signed by the stack's CA, a TLS client (openssl agrees).
    const cert = new X509Certificate(readFileSync(path.join(stateDir, 'agent.crt')));
    expect(cert.subject).toBe('CN=reg-edge-1');
    expect(readFileSync(path.join(stateDir, 'ca.crt'), 'utf8')).toBe(
      readFileSync(stack.caFile, 'utf8'),
    );
    const caFile = path.join(stateDir, 'ca.crt');
    const certFile = path.join(stateDir, 'agent.crt');
    const ok = await run(OPENSSL, ['verify', '-CAfile', caFile, '-purpose', 'sslclient', certFile]);
    expect(ok.stdout).toMatch(/: OK/);
    await expect(
      run(OPENSSL, ['verify', '-CAfile', caFile, '-purpose', 'sslserver', certFile]),
    ).rejects.toThrow();
  });

  it('refuses to register again from a state directory that holds a key, and keeps that key', async () => {
    const stateDir = path.join(work, 'reg-edge-1-state');
    const before = readFileSync(path.join(stateDir, 'agent.key'));
    await expect(
      wirefleet(
        [
          'agent',
          'register',
          '--id',
          'reg-edge-1b',
          '--state-dir',
          stateDir,
          '--out',
          path.join(work, 'reg-edge-1b.json'),
          '--api',
          proxyUrl,
        ],
        { WIREFLEET_API_TOKEN: stack.token },
      ),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/agent\.key exists/) });
    expect(readFileSync(path.join(stateDir, 'agent.key')).equals(before)).toBe(true);
    expect((await stack.api('/api/v1/agents/reg-edge-1b')).status).toBe(404);
  });

  it('a refused registration leaves no key behind', async () => {
    // reg-edge-1 is taken: 409, and the key made for the attempt is removed.
    const stateDir = path.join(work, 'taken-state');
    await expect(
      wirefleet(
        [
          'agent',
          'register',
          '--id',
          'reg-edge-1',
          '--state-dir',
          stateDir,
          '--out',
          path.join(work, 'taken.json'),
          '--api',
          proxyUrl,
        ],
        { WIREFLEET_API_TOKEN: stack.token },
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/registration refused: .*taken/) });
    expect(() => statSync(path.join(stateDir, 'agent.key'))).toThrow(/ENOENT/);
  });

  it('`wirefleet agent run` with that config connects over mTLS and its flows reach the API; revocation cuts it off', async () => {
    const { out, stateDir } = await register('reg-edge-2');
    const config = JSON.parse(readFileSync(out, 'utf8'));
    config.flows = {
      idle_timeout_sec: SHORT_TIMEOUTS.idleTimeoutS,
      active_timeout_sec: SHORT_TIMEOUTS.activeTimeoutS,
      summary_interval_sec: 1,
    };
    config.heartbeat = { interval_sec: 1, metrics_interval_sec: 1 };
    writeFileSync(out, JSON.stringify(config), { mode: 0o600 });
    const agent = startAgentProcess(out);
    try {
      const expected = everything.flows.length;
      await eventually(
        async () => ((await flowCount('reg-edge-2')) >= expected ? true : undefined),
        `${expected} flows from reg-edge-2 over mTLS`,
      );
      const detail = (await (await stack.api('/api/v1/agents/reg-edge-2')).json()) as {
        credentials: { login: string; certificate: { status: string } };
      };
      expect(detail.credentials.login).toBe('certificate');

      // Revoked: the broker drops the agent and refuses its certificate from now on.
      const revoked = await stack.api('/api/v1/agents/reg-edge-2/revoke', {
        method: 'POST',
        json: {},
      });
      expect(revoked.status).toBe(200);
      expect(((await revoked.json()) as { credentials: { login: string } }).credentials.login).toBe(
        'none',
      );
      await expect(connectTls({ clientId: 'reg-edge-2', ...filesOf(stateDir) })).rejects.toThrow(
        /Not authorized/i,
      );
    } finally {
      const { code } = await agent.stop();
      expect(code, agent.output().slice(-3000)).toBe(0);
    }
  });

  it('rotation: a new CSR gets a new certificate; the old one stops connecting, the new one works', async () => {
    const { stateDir } = await register('reg-edge-3');
    const old = filesOf(stateDir);
    const live = await connectTls({ clientId: 'reg-edge-3', ...old });
    const dropped = new Promise<void>((resolve) => live.once('close', () => resolve()));

    const { keyPem, csrPem } = await createAgentKey('reg-edge-3');
    const res = await stack.api('/api/v1/agents/reg-edge-3/credentials', {
      method: 'POST',
      json: { csr: csrPem },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      certificate: { certificate_pem: string; certificate_id: string };
      replaced_certificates: { certificate_id: string; deactivated: boolean }[];
    };
    expect(body.replaced_certificates).toEqual([
      {
        certificate_id: new X509Certificate(old.cert).fingerprint256
          .replace(/:/g, '')
          .toLowerCase(),
        deactivated: true,
      },
    ]);
    // The open connection of the replaced certificate is closed, as AWS IoT does.
    await dropped;
    live.end(true);
    await expect(connectTls({ clientId: 'reg-edge-3', ...old })).rejects.toThrow(/Not authorized/i);
    const fresh = await connectTls({
      clientId: 'reg-edge-3',
      cert: body.certificate.certificate_pem,
      key: keyPem,
    });
    await fresh.publishAsync(agentTopic('reg-edge-3', 'heartbeat'), '{}', { qos: 1 });
    await fresh.endAsync();
  });

  it('`wirefleet agent rotate` replaces the key and certificate in place; only the new pair connects', async () => {
    const { stateDir, out } = await register('reg-edge-6');
    const old = filesOf(stateDir);
    const rotate = (token: string) =>
      wirefleet(['agent', 'rotate', '--config', out, '--api', proxyUrl], {
        WIREFLEET_API_TOKEN: token,
      });

    // A refused rotation (a token the API does not know) leaves the old login as it was.
    await expect(rotate('wf_not-a-token')).rejects.toMatchObject({
      stderr: expect.stringMatching(/rotation refused: .*the old key and certificate stay/),
    });
    expect(filesOf(stateDir)).toEqual(old);

    const before = requests.length;
    const { stdout } = await rotate(stack.token);
    expect(stdout).toMatch(/new key .*agent\.key and certificate [0-9a-f]{64}.*restart the agent/s);
    const sent = requests.slice(before).filter((r) => r.method === 'POST');
    expect(sent.map((r) => r.url)).toEqual(['/api/v1/agents/reg-edge-6/credentials']);
    expect(Object.keys(JSON.parse(sent[0]!.body))).toEqual(['csr']);

    const fresh = filesOf(stateDir);
    expect(fresh.key.equals(old.key)).toBe(false);
    expect(fresh.cert.equals(old.cert)).toBe(false);
    expect(statSync(path.join(stateDir, 'agent.key')).mode & 0o777).toBe(0o600);
    // The new certificate is for the new key, and no half-made key is left beside it.
    expect(new X509Certificate(fresh.cert).checkPrivateKey(createPrivateKey(fresh.key))).toBe(true);
    expect(() => statSync(path.join(stateDir, 'agent.key.new'))).toThrow(/ENOENT/);
    await expect(connectTls({ clientId: 'reg-edge-6', ...old })).rejects.toThrow(/Not authorized/i);
    const client = await connectTls({ clientId: 'reg-edge-6', ...fresh });
    await client.endAsync();
  });

  it('a valid certificate presented with another client id never connects', async () => {
    const { stateDir } = await register('reg-edge-4');
    await expect(connectTls({ clientId: 'reg-edge-1', ...filesOf(stateDir) })).rejects.toThrow(
      /Not authorized/i,
    );
    await expect(connectTls({ clientId: 'someone-else', ...filesOf(stateDir) })).rejects.toThrow(
      /Not authorized/i,
    );
    // With its own id it does, and it may publish only under its own topics.
    const client = await connectTls({ clientId: 'reg-edge-4', ...filesOf(stateDir) });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(agentTopic('reg-edge-1', 'flows'), '{}', { qos: 1 });
    await closed;
    client.end(true);
  });

  it('a certificate from a rogue CA, even with a registered agent id as CN, never connects', async () => {
    const rogue = await pki.rogueClient('reg-edge-1');
    await expect(
      connectTls({
        clientId: 'reg-edge-1',
        cert: readFileSync(rogue.cert),
        key: readFileSync(rogue.key),
      }),
    ).rejects.toThrow(/closed before CONNACK|alert/);
    // Nor does a client with no certificate at all.
    await expect(connectTls({ clientId: 'reg-edge-1' })).rejects.toThrow(
      /certificate required|closed before CONNACK/,
    );
  });

  it('--password-login keeps the password flow for brokers without TLS', async () => {
    const { config, stateDir } = await register('reg-edge-5', ['--password-login']);
    expect(config.mqtt).toEqual({
      url: stack.mqttUrl,
      username: 'reg-edge-5',
      password_file: path.join(stateDir, 'mqtt-password'),
    });
    expect(statSync(path.join(stateDir, 'mqtt-password')).mode & 0o777).toBe(0o600);
    const password = readFileSync(path.join(stateDir, 'mqtt-password'), 'utf8').trim();
    const client = await connectWith(stack.mqttUrl, {
      clientId: 'reg-edge-5',
      username: 'reg-edge-5',
      password,
    });
    await client.endAsync();
    // A certificate agent has no password to log in with on plain TCP.
    await expect(
      connectWith(stack.mqttUrl, { clientId: 'reg-edge-4', username: 'reg-edge-4', password }),
    ).rejects.toThrow(/Not authorized|Bad username/i);
  });
});
