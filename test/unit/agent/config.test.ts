import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  configDefaults,
  loadAgentConfig,
  parseAgentConfig,
  stripJsonComments,
} from '../../../agent/config.js';
import { renderInitConfig } from '../../../agent/config-template.js';
import { ensureSecretFile, readSecretFile, SecretFileError } from '../../../agent/secret-file.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-agent-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  agent_id: 'edge-1',
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  capture: { interface: 'eth0' },
};
type Patch = Record<string, unknown>;
const merge = (patch: Patch) => {
  const out: Patch = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) {
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      out[key] &&
      typeof out[key] === 'object'
        ? { ...(out[key] as Patch), ...(value as Patch) }
        : value;
  }
  return out;
};
const parse = (patch: Patch = {}) =>
  parseAgentConfig(JSON.stringify(merge(patch)), {
    baseDir: '/etc/wirefleet',
    source: '/etc/wirefleet/agent.json',
  });
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentConfigError);
    return (error as Error).message;
  }
  throw new Error('expected an AgentConfigError');
};

describe('stripJsonComments', () => {
  it('drops comments outside strings and keeps them inside', () => {
    const text = `{
      // line comment with "quotes"
      "url": "mqtt://host//path", /* block
      comment */ "filter": "/* not a comment */ // nor this",
      "esc": "a \\" // still a string",
    }`;
    expect(JSON.parse(stripJsonComments(text))).toEqual({
      url: 'mqtt://host//path',
      filter: '/* not a comment */ // nor this',
      esc: 'a " // still a string',
    });
  });

  it('keeps line numbers and reports unterminated block comments', () => {
    expect(stripJsonComments('{\n/* a\nb */\n}').split('\n')).toHaveLength(4);
    expect(() => stripJsonComments('{\n /* open')).toThrow(
      /unterminated \/\* comment starting on line 2/,
    );
  });
});

describe('parseAgentConfig', () => {
  it('fills defaults and derives the username from agent_id', () => {
    const c = parse();
    expect(c.mqtt.username).toBe('edge-1');
    expect(c.mqtt.password).toBeNull();
    expect(c.mqtt.keepalive_sec).toBe(configDefaults.mqtt.keepalive_sec);
    expect(c.capture).toMatchObject({
      interface: 'eth0',
      file: null,
      backend: 'afpacket',
      snaplen: 262_144,
    });
    expect(c.flows.table_size).toBe(65_536);
    expect(c.spool.dir).toBe('/var/lib/wirefleet-agent/spool');
    expect(c.control).toMatchObject({
      enabled: true,
      listen: '127.0.0.1:8001',
      host: '127.0.0.1',
      port: 8001,
    });
    expect(c.integrity).toEqual({
      public_key_file: '/etc/wirefleet/addon-signing.pub',
      signature_file: null,
      allow_unsigned: false,
    });
    expect(c.log).toEqual({ level: 'info', audit_file: null });
  });

  it('resolves relative paths against the config directory', () => {
    const c = parse({
      mqtt: { url: 'mqtts://broker:8883', password_file: 'mqtt-password', ca_file: './ca.pem' },
      capture: { interface: null, file: 'captures/a.pcap', replay_loop_sec: 60 },
      spool: { dir: '../spool' },
      control: { token_file: 'token' },
      integrity: { public_key_file: 'keys/pub.pem', signature_file: '/opt/x.sig' },
      log: { audit_file: 'audit.log' },
    });
    expect(c.mqtt.password_file).toBe('/etc/wirefleet/mqtt-password');
    expect(c.mqtt.ca_file).toBe('/etc/wirefleet/ca.pem');
    expect(c.capture.file).toBe('/etc/wirefleet/captures/a.pcap');
    expect(c.capture.backend).toBe('file');
    expect(c.spool.dir).toBe('/etc/spool');
    expect(c.control.token_file).toBe('/etc/wirefleet/token');
    expect(c.integrity.public_key_file).toBe('/etc/wirefleet/keys/pub.pem');
    expect(c.integrity.signature_file).toBe('/opt/x.sig');
    expect(c.log.audit_file).toBe('/etc/wirefleet/audit.log');
  });

  it.each([
    [
      { mqtt: { url: 'http://broker' } },
      'mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL',
    ],
    [{ mqtt: { url: 'not a url' } }, 'mqtt.url: must be an mqtt://'],
    [{ mqtt: { url: 'mqtt://u:p@broker' } }, 'mqtt.url: must not carry credentials'],
    [{ mqtt: { url: 'mqtt://h', usrname: 'x' } }, 'mqtt.usrname: unknown key'],
    [{ extra: 1 }, 'extra: unknown key'],
    [{ agent_id: 'Edge_1' }, "agent_id: use a-z, 0-9 and '-'"],
    [{ agent_id: undefined }, 'agent_id: is required'],
    [{ mqtt: undefined }, 'mqtt: is required'],
    [
      { mqtt: { url: 'mqtt://127.0.0.1:1883', keepalive_sec: 0 } },
      'mqtt.keepalive_sec: must be an integer 1-65535',
    ],
    [{ flows: { table_size: 1000 } }, 'flows.table_size: must be an integer 4096-16777216'],
    [{ flows: { table_size: '65536' } }, 'flows.table_size: must be a number'],
    [
      { flows: { idle_timeout_sec: 60, active_timeout_sec: 30 } },
      'flows.active_timeout_sec: must be at least',
    ],
    [{ control: { listen: '127.0.0.1' } }, 'control.listen: must be HOST:PORT'],
    [{ control: { listen: '127.0.0.1:70000' } }, 'control.listen: must be HOST:PORT'],
    [
      { heartbeat: { eid_prefixes: ['10.1.0.0/33'] } },
      'heartbeat.eid_prefixes[0]: "10.1.0.0/33" is not a valid',
    ],
    [{ heartbeat: { eid_prefixes: ['10.1.2.3/16'] } }, 'did you mean 10.1.0.0/16?'],
    [{ heartbeat: { eid_prefixes: ['fe80::/10'] } }, 'is not an IPv4 prefix'],
    [
      { heartbeat: { rlocs: [{ address: '300.1.1.1' }] } },
      'heartbeat.rlocs[0].address: must be an IPv4 or IPv6',
    ],
    [
      { capture: { backend: 'dpdk' } },
      'capture.backend: must be one of "afpacket", "libpcap", "file"',
    ],
    [
      { capture: { file: '/x.pcap' } },
      'capture: give exactly one of capture.interface and capture.file',
    ],
    [{ capture: { interface: null } }, 'capture: give exactly one'],
    [{ capture: { backend: 'file' } }, 'capture.backend: "file" needs capture.file'],
    [
      { capture: { replay_loop_sec: 5 } },
      'capture.replay_loop_sec: only applies with capture.file',
    ],
    [
      { capture: { interface: 'a-very-long-interface-name' } },
      'capture.interface: must be a network interface name',
    ],
    [
      { mqtt: { url: 'mqtt://h', password: 'p', password_file: '/p' } },
      'give mqtt.password or mqtt.password_file, not both',
    ],
    [
      { mqtt: { url: 'mqtts://h', cert_file: '/c' } },
      'mqtt.key_file: mqtt.cert_file and mqtt.key_file go together',
    ],
    [
      { mqtt: { url: 'mqtt://h', ca_file: '/ca' } },
      'mqtt.ca_file: TLS files need an mqtts:// or wss:// URL',
    ],
    [
      { mqtt: { url: 'mqtt://h', reconnect_min_ms: 5000, reconnect_max_ms: 1000 } },
      'mqtt.reconnect_max_ms: must be at least',
    ],
    [{ alerts: { drop_rate_pct: 150 } }, 'alerts.drop_rate_pct: must be a percentage 0-100'],
    [{ log: { level: 'verbose' } }, 'log.level: must be one of'],
    [{ integrity: { allow_unsigned: 'yes' } }, 'integrity.allow_unsigned: must be true or false'],
  ] as [Patch, string][])('refuses %j', (patch, message) => {
    const text = errorOf(() => parse(patch));
    expect(text).toContain('agent config /etc/wirefleet/agent.json: ');
    expect(text).toContain(message);
    expect(text).not.toContain('\n');
  });

  it('accepts hostnames and bracketed IPv6 in control.listen, and port 0', () => {
    expect(parse({ control: { listen: '[::1]:9000' } }).control).toMatchObject({
      host: '::1',
      port: 9000,
    });
    expect(parse({ control: { listen: 'localhost:0' } }).control).toMatchObject({
      host: 'localhost',
      port: 0,
    });
  });

  it('says where JSON is broken and what is not an object', () => {
    const broken = errorOf(() =>
      parseAgentConfig('{\n  "agent_id": "edge-1"\n  "mqtt": {}\n}', {
        baseDir: '/',
        source: '/a.json',
      }),
    );
    expect(broken).toMatch(/^agent config \/a\.json: not valid JSON at line 3 column 3/);
    expect(errorOf(() => parseAgentConfig('[1]', { baseDir: '/', source: '/a.json' }))).toBe(
      'agent config /a.json: must be a JSON object',
    );
  });

  it('accepts the init template, with options', () => {
    const c = parseAgentConfig(renderInitConfig(), { baseDir: '/etc/wirefleet' });
    expect(c.agent_id).toBe('edge-1');
    expect(c.capture.interface).toBe('eth0');
    const custom = parseAgentConfig(
      renderInitConfig({
        agentId: 'site-7',
        mqttUrl: 'mqtts://iot.example.com:8883',
        interface: 'ens3',
      }),
      { baseDir: '/etc/wirefleet' },
    );
    expect(custom).toMatchObject({
      agent_id: 'site-7',
      mqtt: { url: 'mqtts://iot.example.com:8883', username: 'site-7' },
      capture: { interface: 'ens3' },
    });
    // Every section is present and has its own comment line above it.
    const template = renderInitConfig();
    for (const section of [
      'agent_id',
      'mqtt',
      'capture',
      'flows',
      'spool',
      'control',
      'heartbeat',
      'alerts',
      'integrity',
      'log',
    ]) {
      expect(template).toMatch(new RegExp(`// [^\\n]+\\n\\s+"${section}":`));
    }
  });
});

describe('loadAgentConfig', () => {
  const write = (name: string, text: string, mode = 0o600) => {
    const file = path.join(dir, name);
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
    return file;
  };

  it('reads the password file and TLS files at load', async () => {
    write('mqtt-password', 's3cret\n');
    write('ca.pem', 'CA');
    write('agent.crt', 'CERT', 0o644);
    write('agent.key', 'KEY');
    const file = write(
      'ok.jsonc',
      `// comment\n${JSON.stringify(
        merge({
          mqtt: {
            url: 'mqtts://broker:8883',
            password_file: 'mqtt-password',
            ca_file: 'ca.pem',
            cert_file: 'agent.crt',
            key_file: 'agent.key',
          },
        }),
      )}`,
    );
    const c = await loadAgentConfig(file);
    expect(c.source).toBe(file);
    expect(c.mqtt.password).toBe('s3cret');
    expect(c.mqtt.ca?.toString()).toBe('CA');
    expect(c.mqtt.cert?.toString()).toBe('CERT');
    expect(c.mqtt.key?.toString()).toBe('KEY');
  });

  it('refuses a password file others can read, naming chmod 600', async () => {
    write('loose-password', 'pw\n', 0o644);
    const file = write(
      'loose.json',
      JSON.stringify(merge({ mqtt: { url: 'mqtt://h', password_file: 'loose-password' } })),
    );
    await expect(loadAgentConfig(file)).rejects.toThrow(
      `agent config ${file}: mqtt.password_file: password file ${dir}/loose-password: readable by group or others (mode 0644); run chmod 600 ${dir}/loose-password`,
    );
  });

  it('refuses a group-readable key file', async () => {
    write('c.crt', 'CERT');
    write('k.key', 'KEY', 0o640);
    const file = write(
      'badkey.json',
      JSON.stringify(merge({ mqtt: { url: 'mqtts://h', cert_file: 'c.crt', key_file: 'k.key' } })),
    );
    await expect(loadAgentConfig(file)).rejects.toThrow(
      /mqtt\.key_file: key file .*mode 0640\); run chmod 600/,
    );
  });

  it('names a missing file', async () => {
    const file = write(
      'missing-ca.json',
      JSON.stringify(merge({ mqtt: { url: 'mqtts://h', ca_file: 'nope.pem' } })),
    );
    await expect(loadAgentConfig(file)).rejects.toThrow(
      `agent config ${file}: mqtt.ca_file: does not exist`,
    );
    await expect(loadAgentConfig(path.join(dir, 'absent.json'))).rejects.toThrow(
      /absent\.json: does not exist \(create one with: wirefleet agent init\)/,
    );
  });
});

describe('secret files', () => {
  it('creates a missing token file 0600 in a 0700 directory, and keeps an existing one', () => {
    const file = path.join(dir, 'secrets', 'control-token');
    const first = ensureSecretFile(file);
    expect(first.created).toBe(true);
    expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const second = ensureSecretFile(file, () => 'other');
    expect(second).toEqual({ value: first.value, created: false });
    expect(readFileSync(file, 'utf8')).toBe(`${first.value}\n`);
  });

  it('refuses group/other-readable, empty and non-regular files', () => {
    const loose = path.join(dir, 'loose-token');
    writeFileSync(loose, 'x\n', { mode: 0o604 });
    chmodSync(loose, 0o604);
    expect(() => readSecretFile(loose, 'token file')).toThrow(SecretFileError);
    expect(() => readSecretFile(loose, 'token file')).toThrow(/mode 0604\); run chmod 600/);
    const empty = path.join(dir, 'empty-token');
    writeFileSync(empty, '', { mode: 0o600 });
    expect(() => readSecretFile(empty, 'token file')).toThrow(/is empty/);
    expect(() => readSecretFile(dir, 'token file')).toThrow(/not a regular file/);
  });
});
