import { type Context, Hono } from 'hono';
import { AGENT_ID_PATTERN, TOPIC_ROOT } from '../../../protocol/agent-messages.js';
import { InvalidCsrError, type ValidCsr, validateCsr } from '../../identity/csr.js';
import {
  type AgentIdentityProvider,
  type CertificateRecord,
  IdentityConflictError,
  IdentityUnavailableError,
  type IssuedCertificate,
} from '../../identity/provider.js';
import type { AgentRecord } from '../../store/agents.js';
import { AlreadyExistsError } from '../../store/errors.js';
import type { AppDeps, AppEnv } from '../env.js';
import { ApiError, NotFoundError, ValidationError } from '../errors.js';
import { registerAgentSchema, rotateCredentialsSchema } from '../schemas.js';
import { readJson } from '../validate.js';

/**
 * An agent's credentials: registration, rotation and revocation. With a CSR
 * the agent gets an X.509 certificate from the identity provider (the local
 * CA, or AWS IoT), and its private key never leaves it; without one, a
 * password, where the deployment's broker takes passwords. An agent has one
 * credential at a time: a new certificate replaces the old one (which is
 * deactivated) and any password.
 */

/** The tenant's agent; unknown and other tenants' agents alike are 404, never 403. */
export async function findTenantAgent(deps: AppDeps, c: Context<AppEnv>): Promise<AgentRecord> {
  const id = c.req.param('id') ?? '';
  const agent = AGENT_ID_PATTERN.test(id)
    ? await deps.agents.getForTenant(c.get('tenant').name, id)
    : undefined;
  if (!agent) throw new NotFoundError(`no agent "${id.slice(0, 63)}"`, 'agent_not_found');
  return agent;
}

/** What a password agent needs to connect: shown when registered or rotated, never again. */
export function mqttCredentials(agentId: string, password: string, url?: string) {
  return {
    ...(url ? { url } : {}),
    client_id: agentId,
    username: agentId,
    password,
    topic_prefix: `${TOPIC_ROOT}/${agentId}`,
  };
}

/** What a certificate agent needs to connect (the key it has already). */
function certificateCredentials(
  identity: AgentIdentityProvider,
  agentId: string,
  issued: IssuedCertificate,
) {
  return {
    mqtt: {
      url: identity.mqttUrl,
      client_id: identity.clientId(agentId),
      topic_prefix: `${TOPIC_ROOT}/${agentId}`,
    },
    certificate: {
      certificate_pem: issued.certificatePem,
      ca_pem: issued.caPem,
      certificate_id: issued.certificate.id,
      ...(issued.certificate.notAfter ? { not_after: issued.certificate.notAfter } : {}),
    },
  };
}

export function credentialSummary(agent: AgentRecord) {
  const cert = agent.certificate;
  const login =
    cert?.status === 'ACTIVE' ? 'certificate' : agent.passwordLogin ? 'password' : 'none';
  return {
    /** How the agent can connect now; 'none' once revoked (or never credentialed). */
    login,
    certificate: cert
      ? {
          certificate_id: cert.id,
          status: cert.status,
          issued_at: cert.issuedAt,
          not_after: cert.notAfter ?? null,
        }
      : null,
  };
}

/** Identity failures as API errors: 400 for a bad CSR, 409 for a foreign thing, 503 otherwise. */
function identityError(error: unknown): unknown {
  if (error instanceof InvalidCsrError) {
    return new ValidationError(`csr: ${error.message}`, 'invalid_csr');
  }
  if (error instanceof IdentityConflictError) {
    return new ApiError(409, 'identity_conflict', error.message);
  }
  if (error instanceof IdentityUnavailableError) {
    return new ApiError(503, 'identity_unavailable', `${error.message}; retry shortly`);
  }
  return error;
}

async function identityCall<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw identityError(error);
  }
}

function requireIdentity(deps: AppDeps): AgentIdentityProvider {
  if (!deps.identity) {
    throw new ApiError(
      503,
      'identity_unavailable',
      'no certificate authority is configured here (AGENT_IDENTITY); agents cannot get certificates',
    );
  }
  return deps.identity;
}

function refusePasswords(deps: AppDeps, why: string): void {
  if (deps.identity && !deps.identity.passwordLogin) {
    throw new ValidationError(
      `${why}: this deployment's broker takes certificates only`,
      'csr_required',
    );
  }
}

export function agentCredentialRoutes(deps: AppDeps) {
  /** Deactivates each certificate; says which worked (a failure is logged, not thrown). */
  async function retire(agentId: string, certificates: Pick<CertificateRecord, 'id' | 'arn'>[]) {
    const identity = requireIdentity(deps);
    const results: { certificate_id: string; deactivated: boolean }[] = [];
    for (const certificate of certificates) {
      try {
        await identity.deactivate(agentId, certificate);
        results.push({ certificate_id: certificate.id, deactivated: true });
      } catch (error) {
        deps.logger.error('replaced certificate not deactivated', {
          agentId,
          certificateId: certificate.id,
          error: (error as Error).message,
        });
        results.push({ certificate_id: certificate.id, deactivated: false });
      }
    }
    return results;
  }

  return new Hono<AppEnv>()
    .post('/agents', async (c) => {
      const body = await readJson(c, registerAgentSchema);
      const tenant = c.get('tenant').name;
      const agentId = body.agent_id;
      let csr: ValidCsr | undefined;
      if (body.csr !== undefined) {
        requireIdentity(deps);
        csr = await identityCall(() => validateCsr(body.csr!));
      } else {
        refusePasswords(deps, 'send a csr');
      }
      try {
        c.header('Cache-Control', 'no-store');
        if (!csr) {
          const { agent, password } = await deps.agents.register(tenant, agentId);
          deps.agentRouting.invalidate(tenant);
          return c.json(
            {
              agent_id: agent.agentId,
              tenant: agent.tenant,
              created_at: agent.createdAt,
              mqtt: mqttCredentials(agent.agentId, password, deps.mqttUrl),
            },
            201,
          );
        }
        const identity = requireIdentity(deps);
        const agent = await deps.agents.registerForCertificate(tenant, agentId);
        deps.agentRouting.invalidate(tenant);
        let issued: IssuedCertificate;
        try {
          issued = await identity.issue(agentId, csr);
        } catch (error) {
          // Free the id so the agent can register again, unless a certificate
          // that may still be active is recorded on it (then revoke, or rotate).
          const leftActive =
            error instanceof IdentityUnavailableError && error.certificateLeftActive;
          if (!leftActive) await deps.agents.remove(tenant, agentId).catch(() => undefined);
          throw identityError(error);
        }
        return c.json(
          {
            agent_id: agent.agentId,
            tenant: agent.tenant,
            created_at: agent.createdAt,
            ...certificateCredentials(identity, agentId, issued),
          },
          201,
        );
      } catch (error) {
        // Agent ids are global (MQTT client ids, thing names); say it is taken, not by whom.
        if (error instanceof AlreadyExistsError) {
          throw new ApiError(409, 'agent_exists', `agent id "${agentId}" is taken; choose another`);
        }
        throw error;
      }
    })
    .post('/agents/:id/credentials', async (c) => {
      const agent = await findTenantAgent(deps, c);
      const body = await readJson(c, rotateCredentialsSchema);
      c.header('Cache-Control', 'no-store');
      if (body.csr === undefined) {
        if (agent.certificate) {
          throw new ValidationError(
            'this agent authenticates with a certificate: send a csr for its new key',
            'csr_required',
          );
        }
        refusePasswords(deps, 'send a csr');
        const password = await deps.agents.rotatePassword(agent.tenant, agent.agentId);
        if (password === undefined) {
          throw new NotFoundError(`no agent "${agent.agentId}"`, 'agent_not_found');
        }
        return c.json({
          agent_id: agent.agentId,
          tenant: agent.tenant,
          mqtt: mqttCredentials(agent.agentId, password, deps.mqttUrl),
        });
      }
      const identity = requireIdentity(deps);
      const csr = await identityCall(() => validateCsr(body.csr!));
      const issued = await identityCall(() => identity.issue(agent.agentId, csr));
      // The new certificate is in place; only then do the old ones stop working.
      const old = [
        ...(agent.certificate?.status === 'ACTIVE' ? [agent.certificate] : []),
        ...(agent.pendingCertificate ? [agent.pendingCertificate] : []),
      ].filter((cert) => cert.id !== issued.certificate.id);
      return c.json({
        agent_id: agent.agentId,
        tenant: agent.tenant,
        ...certificateCredentials(identity, agent.agentId, issued),
        replaced_certificates: await retire(agent.agentId, old),
      });
    })
    .post('/agents/:id/revoke', async (c) => {
      const agent = await findTenantAgent(deps, c);
      const active = [
        ...(agent.certificate?.status === 'ACTIVE' ? [agent.certificate] : []),
        ...(agent.pendingCertificate ? [agent.pendingCertificate] : []),
      ];
      for (const certificate of active) {
        if (deps.identity) {
          const identity = deps.identity;
          await identityCall(() => identity.deactivate(agent.agentId, certificate));
        } else {
          await deps.agents.deactivateCertificate(agent.agentId, certificate.id);
        }
      }
      // A half-registered certificate, now inactive, needs no more watching.
      if (agent.pendingCertificate) {
        await deps.agents.clearPendingCertificate(agent.agentId, agent.pendingCertificate.id);
      }
      if (agent.passwordLogin) await deps.agents.removePassword(agent.tenant, agent.agentId);
      const after = await deps.agents.getForTenant(agent.tenant, agent.agentId);
      return c.json({
        agent_id: agent.agentId,
        tenant: agent.tenant,
        revoked_certificates: active.map((cert) => cert.id),
        password_removed: agent.passwordLogin,
        credentials: credentialSummary(after ?? agent),
      });
    });
}
