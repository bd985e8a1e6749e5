/**
 * Agent registration against AWS IoT Core, through the real API app and a
 * real registry (dynalite). AWS IoT Core cannot run here: its control plane
 * (CreateThing, CreateCertificateFromCsr, AttachPolicy, AttachThingPrincipal,
 * UpdateCertificate...) is aws-sdk-client-mock, and these tests assert the
 * exact commands and inputs the provider sends, in order, the rollback after
 * a failure, and that the thing is idempotent. The certificate the mock
 * "signs" is made by the local CA from the same CSR, so it is a real one.
 */
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateThingCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ResourceAlreadyExistsException,
  ThrottlingException,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/api/app.js';
import { createAppDeps } from '../../functions/api/deps.js';
import { AMAZON_ROOT_CA_BUNDLE } from '../../functions/identity/amazon-root-cas.js';
import { AwsIotIdentity } from '../../functions/identity/aws-iot.js';
import { validateCsr } from '../../functions/identity/csr.js';
import { agentIdentityFromEnv } from '../../functions/identity/env.js';
import { certificateId, LocalCertificateAuthority } from '../../functions/identity/local-ca.js';
import { IdentityConfigError } from '../../functions/identity/provider.js';
import { silentLogger } from '../../functions/logger.js';
import { createStoreClients } from '../../functions/store/clients.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { createAgentKey } from '../../infra/cli/agent-enroll.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const ENDPOINT = 'abc123example-ats.iot.eu-west-1.amazonaws.com';
const POLICY = 'wirefleet_agent';
const ARN_PREFIX = 'arn:aws:iot:eu-west-1:123456789012';

const iotMock = mockClient(IoTClient);
let stack: TestStack;
let repos: Repositories;
let app: ReturnType<typeof createApp>;
let acmeToken: string;
/** Stands in for AWS's signer: a real certificate for the CSR's key. */
let signer: LocalCertificateAuthority;

beforeAll(async () => {
  stack = await startTestStack();
  repos = createRepositories(createStoreClients(stack.config), stack.config);
  await repos.tenants.create('acme');
  acmeToken = await repos.tenants.issueToken('acme');
  signer = (await LocalCertificateAuthority.create()).ca;
  const iot = new IoTClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  app = createApp(
    createAppDeps(stack.config, {
      logger: silentLogger,
      identity: (agents) =>
        new AwsIotIdentity({
          iot,
          registry: agents,
          dataEndpoint: ENDPOINT,
          policyName: POLICY,
          thingPrefix: 'wirefleet-',
          logger: silentLogger,
        }),
    }),
  );
});
afterAll(async () => {
  iotMock.restore();
  await stack?.stop();
});

/** CreateCertificateFromCsr as AWS answers it: ARN, 64-hex id, PEM. */
function signLikeAws() {
  iotMock.on(CreateCertificateFromCsrCommand).callsFake(async (input) => {
    const csr = await validateCsr(input.certificateSigningRequest);
    const { pem } = await signer.signAgentCertificate('ignored-by-aws', csr);
    const id = certificateId(
      new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')),
    );
    return { certificateArn: `${ARN_PREFIX}:cert/${id}`, certificateId: id, certificatePem: pem };
  });
}

beforeEach(() => {
  iotMock.reset();
  iotMock.on(CreateThingCommand).callsFake(async (input) => ({
    thingName: input.thingName,
    thingArn: `${ARN_PREFIX}:thing/${input.thingName}`,
  }));
  signLikeAws();
  iotMock.on(AttachPolicyCommand).resolves({});
  iotMock.on(AttachThingPrincipalCommand).resolves({});
  iotMock.on(UpdateCertificateCommand).resolves({});
  iotMock.on(DetachThingPrincipalCommand).resolves({});
});

/** Every IoT command sent, in order: [name, input]. */
const sent = () =>
  iotMock.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name.replace(/Command$/, ''), command.input] as const;
  });

async function api(path: string, body?: unknown, token = stack.token) {
  const res = await app.request(`/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function register(agentId: string, token = stack.token) {
  const { csrPem } = await createAgentKey(agentId);
  return { csrPem, res: await api('/agents', { agent_id: agentId, csr: csrPem }, token) };
}

describe('agent registration with AWS IoT (IoT Core mocked: it cannot run here)', () => {
  it('creates the thing, signs the CSR, records the certificate, then attaches policy and thing', async () => {
    let pendingWhenAttaching: unknown;
    iotMock.on(AttachPolicyCommand).callsFake(async () => {
      pendingWhenAttaching = (await repos.agents.get('aws-edge-1'))?.pendingCertificate;
      return {};
    });
    const { csrPem, res } = await register('aws-edge-1');
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { certificate_id: id } = res.body.certificate;
    const arn = `${ARN_PREFIX}:cert/${id}`;

    expect(sent()).toEqual([
      [
        'CreateThing',
        {
          thingName: 'wirefleet-aws-edge-1',
          attributePayload: { attributes: { agent_id: 'aws-edge-1' } },
        },
      ],
      [
        'CreateCertificateFromCsr',
        { certificateSigningRequest: (await validateCsr(csrPem)).pem, setAsActive: true },
      ],
      ['AttachPolicy', { policyName: POLICY, target: arn }],
      [
        'AttachThingPrincipal',
        {
          thingName: 'wirefleet-aws-edge-1',
          principal: arn,
          thingPrincipalType: 'EXCLUSIVE_THING',
        },
      ],
    ]);
    // The certificate id was in DynamoDB before anything was attached to it.
    expect(pendingWhenAttaching).toEqual({ id, arn });

    expect(res.body).toMatchObject({
      agent_id: 'aws-edge-1',
      tenant: 'default',
      mqtt: {
        url: `mqtts://${ENDPOINT}:8883`,
        client_id: 'wirefleet-aws-edge-1',
        topic_prefix: 'wirefleet/v1/agents/aws-edge-1',
      },
      certificate: { ca_pem: AMAZON_ROOT_CA_BUNDLE },
    });
    expect(res.body.certificate.certificate_pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(Date.parse(res.body.certificate.not_after)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(res.body)).not.toMatch(/PRIVATE KEY|"password"/);

    const agent = await repos.agents.get('aws-edge-1');
    expect(agent?.certificate).toMatchObject({ id, arn, status: 'ACTIVE' });
    expect(agent?.pendingCertificate).toBeNull();
    expect(agent?.passwordLogin).toBe(false);
  });

  it('rolls back when attaching fails: the certificate goes INACTIVE, the id is free, 503', async () => {
    iotMock
      .on(AttachThingPrincipalCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    const { res } = await register('aws-edge-2');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('identity_unavailable');
    expect(res.body.error.message).toMatch(/AttachThingPrincipal \(ThrottlingException\)/);
    expect(res.body.error.message).toMatch(/deactivated/);

    const created = sent().find(([name]) => name === 'CreateCertificateFromCsr');
    expect(created).toBeDefined();
    const id = iotMock.commandCalls(AttachPolicyCommand)[0]!.args[0].input.target!.split('/')[1];
    expect(sent().map(([name]) => name)).toEqual([
      'CreateThing',
      'CreateCertificateFromCsr',
      'AttachPolicy',
      'AttachThingPrincipal',
      'UpdateCertificate',
    ]);
    expect(sent().at(-1)).toEqual([
      'UpdateCertificate',
      { certificateId: id, newStatus: 'INACTIVE' },
    ]);
    // Nothing is left registered, so the agent can simply register again.
    expect(await repos.agents.get('aws-edge-2')).toBeUndefined();
    expect((await api('/agents/aws-edge-2')).status).toBe(404);
  });

  it('detaches the thing when only the registry write fails after attaching', async () => {
    // The registry write after AttachThingPrincipal fails when the agent item vanished.
    iotMock.on(AttachThingPrincipalCommand).callsFake(async () => {
      await repos.agents.remove('default', 'aws-edge-3');
      return {};
    });
    const { res } = await register('aws-edge-3');
    expect(res.status).toBe(503);
    const names = sent().map(([name]) => name);
    expect(names.slice(-2)).toEqual(['UpdateCertificate', 'DetachThingPrincipal']);
    expect(sent().at(-1)?.[1]).toMatchObject({ thingName: 'wirefleet-aws-edge-3' });
  });

  it('keeps the agent and its pending certificate when even deactivating fails, so revoke can finish it', async () => {
    iotMock.on(AttachPolicyCommand).rejects(new Error('boom'));
    iotMock.on(UpdateCertificateCommand).rejectsOnce(new Error('still boom')).resolves({});
    const { res } = await register('aws-edge-4');
    expect(res.status).toBe(503);
    expect(res.body.error.message).toMatch(/could not be deactivated: revoke the agent/);
    const agent = await repos.agents.get('aws-edge-4');
    expect(agent?.pendingCertificate?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(agent?.certificate).toBeNull();

    // (No resetHistory here: it would restart rejectsOnce's call count.)
    const before = sent().length;
    const revoked = await api('/agents/aws-edge-4/revoke', {});
    expect(revoked.status).toBe(200);
    expect(sent().slice(before)).toEqual([
      [
        'UpdateCertificate',
        { certificateId: agent!.pendingCertificate!.id, newStatus: 'INACTIVE' },
      ],
    ]);
    expect((await repos.agents.get('aws-edge-4'))?.pendingCertificate).toBeNull();
  });

  it('the thing is idempotent: a retry after a failure sends the same CreateThing and goes on', async () => {
    iotMock.on(AttachPolicyCommand).rejectsOnce(new Error('transient')).resolves({});
    expect((await register('aws-edge-5')).res.status).toBe(503);
    expect((await register('aws-edge-5')).res.status).toBe(201);
    const creates = iotMock.commandCalls(CreateThingCommand).map((c) => c.args[0].input);
    expect(creates).toHaveLength(2);
    expect(creates[1]).toEqual(creates[0]);
    // Two certificates were made: the first is INACTIVE, the second is the agent's.
    const certs = iotMock.commandCalls(CreateCertificateFromCsrCommand);
    expect(certs).toHaveLength(2);
    const current = (await repos.agents.get('aws-edge-5'))?.certificate;
    expect(current?.status).toBe('ACTIVE');
    const deactivated = iotMock.commandCalls(UpdateCertificateCommand)[0]!.args[0].input;
    expect(deactivated.certificateId).not.toBe(current?.id);
  });

  it('a thing that exists with other settings is reused when its agent_id is this agent', async () => {
    iotMock
      .on(CreateThingCommand)
      .rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {} }));
    iotMock.on(DescribeThingCommand).resolves({
      thingName: 'wirefleet-aws-edge-6',
      attributes: { agent_id: 'aws-edge-6' },
    });
    expect((await register('aws-edge-6')).res.status).toBe(201);
    expect(
      sent()
        .map(([name]) => name)
        .slice(0, 3),
    ).toEqual(['CreateThing', 'DescribeThing', 'CreateCertificateFromCsr']);
  });

  it('a thing that names another agent_id is a 409, and no certificate is made', async () => {
    iotMock
      .on(CreateThingCommand)
      .rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {} }));
    iotMock.on(DescribeThingCommand).resolves({ attributes: { agent_id: 'someone-else' } });
    const { res } = await register('aws-edge-7');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('identity_conflict');
    expect(iotMock.commandCalls(CreateCertificateFromCsrCommand)).toHaveLength(0);
    expect(await repos.agents.get('aws-edge-7')).toBeUndefined();
  });

  it('rotation: a new certificate for a new CSR, then the old one goes INACTIVE', async () => {
    const first = (await register('aws-edge-8')).res.body.certificate.certificate_id as string;
    iotMock.resetHistory();
    const { csrPem } = await createAgentKey('aws-edge-8');
    const rotated = await api('/agents/aws-edge-8/credentials', { csr: csrPem });
    expect(rotated.status).toBe(200);
    const second = rotated.body.certificate.certificate_id as string;
    expect(second).not.toBe(first);
    expect(rotated.body.replaced_certificates).toEqual([
      { certificate_id: first, deactivated: true },
    ]);
    expect(sent().map(([name]) => name)).toEqual([
      'CreateThing',
      'CreateCertificateFromCsr',
      'AttachPolicy',
      'AttachThingPrincipal',
      'UpdateCertificate',
    ]);
    expect(sent().at(-1)).toEqual([
      'UpdateCertificate',
      { certificateId: first, newStatus: 'INACTIVE' },
    ]);
    expect((await repos.agents.get('aws-edge-8'))?.certificate).toMatchObject({
      id: second,
      status: 'ACTIVE',
    });
  });

  it('revocation: UpdateCertificate INACTIVE, and the registry says so', async () => {
    const id = (await register('aws-edge-9')).res.body.certificate.certificate_id as string;
    iotMock.resetHistory();
    const revoked = await api('/agents/aws-edge-9/revoke', {});
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      agent_id: 'aws-edge-9',
      revoked_certificates: [id],
      credentials: { login: 'none', certificate: { certificate_id: id, status: 'INACTIVE' } },
    });
    expect(sent()).toEqual([['UpdateCertificate', { certificateId: id, newStatus: 'INACTIVE' }]]);
    // Idempotent: nothing active is left, so nothing more is sent.
    iotMock.resetHistory();
    expect((await api('/agents/aws-edge-9/revoke', {})).body.revoked_certificates).toEqual([]);
    expect(sent()).toEqual([]);
  });

  it('takes certificates only: no password registration, no password rotation', async () => {
    const res = await api('/agents', { agent_id: 'aws-edge-10' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('csr_required');
    expect((await register('aws-edge-10')).res.status).toBe(201);
    const rotate = await api('/agents/aws-edge-10/credentials', {});
    expect(rotate.status).toBe(400);
    expect(rotate.body.error.code).toBe('csr_required');
    expect(iotMock.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
  });

  it("another tenant's agent is 404 for rotation and revocation, and nothing is sent", async () => {
    expect((await register('aws-edge-11')).res.status).toBe(201);
    iotMock.resetHistory();
    const { csrPem } = await createAgentKey('aws-edge-11');
    expect((await api('/agents/aws-edge-11/credentials', { csr: csrPem }, acmeToken)).status).toBe(
      404,
    );
    expect((await api('/agents/aws-edge-11/revoke', {}, acmeToken)).status).toBe(404);
    expect(sent()).toEqual([]);
  });

  it('a bad CSR is a 400 invalid_csr before anything reaches AWS', async () => {
    const res = await api('/agents', { agent_id: 'aws-edge-12', csr: 'not a csr' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_csr');
    expect(sent()).toEqual([]);
    expect(await repos.agents.get('aws-edge-12')).toBeUndefined();
  });
});

describe('agentIdentityFromEnv (AGENT_IDENTITY, IOT_*)', () => {
  const registry = {} as Parameters<typeof agentIdentityFromEnv>[1];
  const options = { logger: silentLogger, iot: new IoTClient({ region: 'eu-west-1' }) };

  it('is none without AGENT_IDENTITY, AWS IoT with it', () => {
    expect(agentIdentityFromEnv({}, registry, options)).toBeUndefined();
    const provider = agentIdentityFromEnv(
      { AGENT_IDENTITY: 'aws-iot', IOT_DATA_ENDPOINT: ENDPOINT, IOT_AGENT_POLICY: POLICY },
      registry,
      options,
    );
    expect(provider?.kind).toBe('aws-iot');
    expect(provider?.passwordLogin).toBe(false);
    expect(provider?.mqttUrl).toBe(`mqtts://${ENDPOINT}:8883`);
    // The default prefix is the contract's: things are wirefleet-<id>.
    expect(provider?.clientId('edge-1')).toBe('wirefleet-edge-1');
  });

  it('without a client passed in, makes its own for the region and calls AWS IoT through it', async () => {
    iotMock.reset();
    iotMock.on(UpdateCertificateCommand).resolves({});
    const deactivated: string[] = [];
    const recording = {
      deactivateCertificate: async (_agent: string, id: string) => {
        deactivated.push(id);
      },
    } as unknown as Parameters<typeof agentIdentityFromEnv>[1];
    const provider = agentIdentityFromEnv(
      { AGENT_IDENTITY: 'aws-iot', IOT_DATA_ENDPOINT: ENDPOINT, IOT_AGENT_POLICY: POLICY },
      recording,
      { logger: silentLogger, region: 'eu-west-1' },
    );
    await provider!.deactivate('lazy-edge', { id: 'c'.repeat(64), arn: `${ARN_PREFIX}:cert/x` });
    const calls = iotMock.commandCalls(UpdateCertificateCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      { certificateId: 'c'.repeat(64), newStatus: 'INACTIVE' },
    ]);
    expect(deactivated).toEqual(['c'.repeat(64)]);
  });

  it('fails at start when half configured', () => {
    const base = {
      AGENT_IDENTITY: 'aws-iot',
      IOT_DATA_ENDPOINT: ENDPOINT,
      IOT_AGENT_POLICY: POLICY,
    };
    expect(() =>
      agentIdentityFromEnv({ ...base, IOT_AGENT_POLICY: '' }, registry, options),
    ).toThrow(/IOT_AGENT_POLICY/);
    expect(() =>
      agentIdentityFromEnv(
        { ...base, IOT_DATA_ENDPOINT: `https://${ENDPOINT}` },
        registry,
        options,
      ),
    ).toThrow(/without a scheme/);
    expect(() =>
      agentIdentityFromEnv({ ...base, AGENT_IDENTITY: 'vault' }, registry, options),
    ).toThrow(IdentityConfigError);
  });
});
