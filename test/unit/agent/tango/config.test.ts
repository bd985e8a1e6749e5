import { describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from '../../../../agent/config.js';

const base = {
  agent_id: 'edge-1',
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  capture: { interface: 'eth0' },
};
const parse = (tango: Record<string, unknown>) =>
  parseAgentConfig(JSON.stringify({ ...base, tango }), { baseDir: '/etc/wirefleet' });
const path0 = {
  path_id: 0,
  interface: 'isp-a',
  local_address: 'fd00:a::1',
  peer_address: 'fd00:a::2',
  peer_rloc: '198.51.100.7',
};
const path1 = { ...path0, path_id: 1, interface: 'isp-b', peer_rloc: '203.0.113.9' };

describe('agent config: tango', () => {
  it('is off by default, with the defaults a node starts from', () => {
    const { tango } = parseAgentConfig(JSON.stringify(base), { baseDir: '/etc/wirefleet' });
    expect(tango).toMatchObject({
      enabled: false,
      side: 0,
      tun: 'wftango0',
      udp_port: 61042,
      epoch_seconds: 3600,
      interval_ms: 1000,
      paths: [],
      classes: [],
    });
  });

  it('takes a node with paths and classes, and resolves the secret against the config', () => {
    const { tango } = parse({
      enabled: true,
      side: 1,
      secret_file: 'tango.secret',
      routes: ['10.2.0.0/16'],
      paths: [path0, path1],
      classes: [
        { class_id: 1, protocol: 'udp', dst_ports: [5000, 5099], path: 1, max_delay_ms: 30 },
        { class_id: 2, path: 0, max_loss: 0.01, goal: 'loss' },
      ],
    });
    expect(tango.secret_file).toBe('/etc/wirefleet/tango.secret');
    expect(tango.classes[0]).toMatchObject({ goal: 'delay', path: 1 });
  });

  it.each([
    [{ enabled: true, paths: [path0] }, 'tango.secret_file: a Tango node needs the pair secret'],
    [{ enabled: true, secret_file: 's' }, 'tango.paths: a Tango node needs at least one path'],
    [{ paths: [path0, { ...path1, path_id: 0 }] }, 'tango.paths[1].path_id: used twice'],
    [{ paths: [path0], classes: [{ class_id: 3, path: 5 }] }, 'tango.classes[0].path: no path 5'],
    [
      { paths: [{ ...path0, peer_address: '10.0.0.1' }] },
      'tango.paths[0].peer_address: must be an IPv6',
    ],
    [{ paths: [{ ...path0, path_id: 8 }] }, 'tango.paths[0].path_id: must be an integer 0-7'],
    [{ classes: [{ class_id: 1, path: 0, src_ports: [9, 1] }] }, 'tango.classes[0].src_ports'],
    [{ routes: ['10.2.0.1/16'] }, 'tango.routes[0]'],
    [
      { control_address: '10.1.0.1' },
      'tango.peer.control_address: clock sync needs both tango.control_address and tango.peer.control_address',
    ],
    [{ peer: { control_address: 'fd00::1' } }, 'tango.peer.control_address: must be an IPv4'],
  ])('refuses %j naming the field', (tango, message) => {
    expect(() => parse(tango)).toThrow(AgentConfigError);
    expect(() => parse(tango)).toThrow(message);
  });
});
