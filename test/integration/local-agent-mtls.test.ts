import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/agent-process.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { freePort } from '../helpers/mosquitto.js';

/**
 * The agent `npm start` runs registers the way an AWS agent does: its key
 * made on its side, a CSR through the API, the local CA's certificate, then
 * mTLS to aedes. A restart keeps a certificate the registry still holds
 * current; a lost one is replaced through a rotation.
 */

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-local-agent-'));
const agentDir = path.join(dataDir, 'agent');
const previousMode = process.env.WIREFLEET_LOCAL_AGENT;

async function startWithAgent(): Promise<TestStack> {
  return startTestStack({
    dataDir,
    inMemory: false,
    localAgent: true,
    localAgentControlPort: await freePort(),
  });
}

interface AgentView {
  credentials: { login: string; certificate: { certificate_id: string; status: string } | null };
}
const detail = async (stack: TestStack) =>
  (await (await stack.api('/api/v1/agents/local-agent')).json()) as AgentView;
const certificateIdOnDisk = () =>
  new X509Certificate(readFileSync(path.join(agentDir, 'agent.crt'))).fingerprint256
    .replace(/:/g, '')
    .toLowerCase();

beforeAll(() => {
  // Replay the generated capture even as root: no dependence on loopback traffic.
  process.env.WIREFLEET_LOCAL_AGENT = 'replay';
});
afterAll(() => {
  if (previousMode === undefined) delete process.env.WIREFLEET_LOCAL_AGENT;
  else process.env.WIREFLEET_LOCAL_AGENT = previousMode;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local agent of npm start (certificate from a CSR, mTLS)', () => {
  let firstId: string;

  it('registers with a CSR, connects over mTLS and delivers flows', async () => {
    const stack = await startWithAgent();
    try {
      const config = JSON.parse(readFileSync(path.join(agentDir, 'local-agent.json'), 'utf8'));
      expect(config.mqtt).toEqual({
        url: stack.mqttsUrl,
        client_id: 'local-agent',
        key_file: path.join(agentDir, 'agent.key'),
        cert_file: path.join(agentDir, 'agent.crt'),
        ca_file: path.join(agentDir, 'ca.crt'),
      });
      expect(statSync(path.join(agentDir, 'agent.key')).mode & 0o777).toBe(0o600);
      const view = await detail(stack);
      expect(view.credentials.login).toBe('certificate');
      firstId = certificateIdOnDisk();
      expect(view.credentials.certificate?.certificate_id).toBe(firstId);
      await eventually(async () => {
        const res = await stack.api('/api/v1/flows?agent_id=local-agent&limit=10');
        return ((await res.json()) as unknown[]).length > 0 ? true : undefined;
      }, 'flows from the local agent over mTLS');
    } finally {
      await stack.stop();
    }
  });

  it('keeps its certificate across a restart while the registry holds it current', async () => {
    const stack = await startWithAgent();
    try {
      expect(certificateIdOnDisk()).toBe(firstId);
      expect((await detail(stack)).credentials.certificate).toMatchObject({
        certificate_id: firstId,
        status: 'ACTIVE',
      });
    } finally {
      await stack.stop();
    }
  });

  it('a lost certificate is replaced by a rotation with a new key', async () => {
    const oldKey = readFileSync(path.join(agentDir, 'agent.key'));
    unlinkSync(path.join(agentDir, 'agent.crt'));
    const stack = await startWithAgent();
    try {
      const newId = certificateIdOnDisk();
      expect(newId).not.toBe(firstId);
      expect(readFileSync(path.join(agentDir, 'agent.key')).equals(oldKey)).toBe(false);
      expect((await detail(stack)).credentials.certificate).toMatchObject({
        certificate_id: newId,
        status: 'ACTIVE',
      });
    } finally {
      await stack.stop();
    }
  });
});
