import { describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from '../../../../agent/config.js';
import { renderInitConfig } from '../../../../agent/config-template.js';

// The `evidence` section of the agent config: defaults, paths, and the rules across fields.

const parse = (evidence: Record<string, unknown> | undefined) =>
  parseAgentConfig(
    JSON.stringify({
      agent_id: 'edge-1',
      mqtt: { url: 'mqtt://127.0.0.1:1883' },
      capture: { interface: 'eth0' },
      ...(evidence ? { evidence } : {}),
    }),
    { baseDir: '/etc/wirefleet', source: '/etc/wirefleet/agent.json' },
  );
const errorOf = (evidence: Record<string, unknown>) => {
  try {
    parse(evidence);
  } catch (error) {
    expect(error).toBeInstanceOf(AgentConfigError);
    return (error as Error).message;
  }
  throw new Error('expected an AgentConfigError');
};

describe('agent config: evidence', () => {
  it('is off by default, with a spool under the state directory', () => {
    expect(parse(undefined).evidence).toEqual({
      enabled: false,
      key_file: null,
      cipher: 'AES-256-GCM',
      spool_dir: '/var/lib/wirefleet-agent/evidence',
      max_spool_mb: 1024,
      segment_mb: 16,
      segment_seconds: 60,
    });
  });

  it('keeps its spool beside the flow spool unless told otherwise', () => {
    const c = parseAgentConfig(
      JSON.stringify({
        agent_id: 'edge-1',
        mqtt: { url: 'mqtt://127.0.0.1:1883' },
        capture: { interface: 'eth0' },
        spool: { dir: 'state/spool' },
      }),
      { baseDir: '/home/ops/agent' },
    );
    expect(c.evidence.spool_dir).toBe('/home/ops/agent/state/evidence');
  });

  it('resolves paths against the config file and takes the spec ciphers', () => {
    expect(
      parse({
        enabled: true,
        key_file: 'capture.key',
        cipher: 'ChaCha20-Poly1305',
        spool_dir: 'ev',
      }).evidence,
    ).toMatchObject({
      enabled: true,
      key_file: '/etc/wirefleet/capture.key',
      cipher: 'ChaCha20-Poly1305',
      spool_dir: '/etc/wirefleet/ev',
    });
  });

  it.each([
    [{ enabled: true }, /evidence\.key_file: recording \(evidence\.enabled\) needs a key file/],
    [{ cipher: 'AES-256-CBC' }, /evidence\.cipher: must be one of "AES-256-GCM"/],
    [{ segment_mb: 65 }, /evidence\.segment_mb: must be an integer 1-64/],
    [{ segment_seconds: 0 }, /evidence\.segment_seconds: must be an integer 1-3600/],
    [{ max_spool_mb: 8, segment_mb: 16 }, /evidence\.max_spool_mb: must hold at least one segment/],
    [{ bpf: 'udp' }, /evidence\.bpf: unknown key/],
  ])('refuses %j', (evidence, message) => {
    expect(errorOf(evidence)).toMatch(message);
  });

  it('the init template spells the section out and parses', () => {
    const text = renderInitConfig({ stateDir: '/srv/wf' });
    expect(text).toContain('"evidence": {');
    expect(parseAgentConfig(text, { baseDir: '/etc/wirefleet' }).evidence).toMatchObject({
      enabled: false,
      spool_dir: '/srv/wf/evidence',
    });
  });
});
