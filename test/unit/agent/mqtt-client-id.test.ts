import { describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from '../../../agent/config.js';
import { createAgentLogger } from '../../../agent/log.js';
import {
  mqttClientOptions,
  resolveUplinkOptions,
  UplinkConfigError,
  uplinkOptionsFromConfig,
} from '../../../agent/uplink/options.js';

// mqtt.client_id: in AWS IoT the client id is the thing name (wirefleet-<id>), not the agent id.

const logger = createAgentLogger({ level: 'error', write: () => {} });

const parse = (mqtt: Record<string, unknown>) =>
  parseAgentConfig(JSON.stringify({ agent_id: 'edge-1', mqtt, capture: { interface: 'eth0' } }), {
    baseDir: '/etc/wirefleet',
    source: '/etc/wirefleet/agent.json',
  });

describe('agent config mqtt.client_id', () => {
  it('defaults to the agent id', () => {
    const config = parse({ url: 'mqtt://127.0.0.1:1883' });
    expect(config.mqtt.client_id).toBe('edge-1');
    expect(
      mqttClientOptions(resolveUplinkOptions(uplinkOptionsFromConfig(config, logger))),
    ).toMatchObject({ clientId: 'edge-1', username: 'edge-1' });
  });

  it('takes a thing name, and the uplink connects with it while topics keep the agent id', () => {
    const config = parse({ url: 'mqtts://iot.example:8883', client_id: 'wirefleet-edge-1' });
    expect(config.mqtt.client_id).toBe('wirefleet-edge-1');
    const options = resolveUplinkOptions(uplinkOptionsFromConfig(config, logger));
    expect(options.agentId).toBe('edge-1');
    expect(mqttClientOptions(options).clientId).toBe('wirefleet-edge-1');
  });

  it.each([
    ['empty', ''],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['129 characters', 'x'.repeat(129)],
  ])('refuses a client id with %s', (_what, clientId) => {
    expect(() => parse({ url: 'mqtt://127.0.0.1:1883', client_id: clientId })).toThrow(
      AgentConfigError,
    );
    expect(() => parse({ url: 'mqtt://127.0.0.1:1883', client_id: clientId })).toThrow(
      /mqtt\.client_id/,
    );
  });

  it('the uplink refuses a bad client id given in code', () => {
    expect(() =>
      resolveUplinkOptions({ url: 'mqtt://h:1', agentId: 'edge-1', clientId: 'a/b', logger }),
    ).toThrow(UplinkConfigError);
  });

  it('sends no username when a client certificate is the identity', () => {
    const cert = Buffer.from('cert');
    const withCert = resolveUplinkOptions({
      url: 'mqtts://h:8883',
      agentId: 'edge-1',
      username: 'edge-1',
      cert,
      key: Buffer.from('key'),
      logger,
    });
    expect(mqttClientOptions(withCert)).not.toHaveProperty('username');
    expect(mqttClientOptions({ ...withCert, password: 'pw' })).toMatchObject({
      username: 'edge-1',
      password: 'pw',
    });
  });
});
