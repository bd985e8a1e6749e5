import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stripJsonComments } from '../../agent/config.js';
import { renderInitConfig } from '../../agent/config-template.js';
import {
  installAgentService,
  quoteExecArg,
  renderUnit,
  SystemdUnavailableError,
  UNIT_NAME,
  uninstallAgentService,
} from '../../agent/systemd.js';
import { runAgentInit, runAgentInstall } from '../../infra/cli/agent-setup.js';
import { UsageError } from '../../infra/cli/options.js';
import { mkdtempForService } from '../helpers/service-dir.js';

// The unit checked by the real systemd-analyze (verify and the offline security score).
// systemd is not PID 1 here, so install is exercised as dry run and as the clear refusal.

const BIN = path.resolve('bin/wirefleet.js');
const EXEC_START = [process.execPath, BIN];
// Where the checkout and node live changes the unit (ProtectHome): tests of the text use fixed paths.
const FIXED_EXEC_START = ['/usr/bin/node', '/opt/wirefleet/bin/wirefleet.js'];
let dir: string;
let configPath: string;

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const HARDENING = [
  'Type=simple',
  'After=network-online.target',
  'Wants=network-online.target',
  'Restart=on-failure',
  'RestartSec=5',
  'StateDirectory=wirefleet-agent',
  'StateDirectoryMode=0700',
  'ConfigurationDirectory=wirefleet',
  'AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN',
  'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN',
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'PrivateTmp=yes',
  'ProtectKernelTunables=yes',
  'ProtectKernelModules=yes',
  'ProtectKernelLogs=yes',
  'ProtectControlGroups=yes',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET',
  'LockPersonality=yes',
  'RestrictRealtime=yes',
  'SystemCallArchitectures=native',
  'UMask=0077',
];

beforeAll(() => {
  // Not under /tmp, nor inside the checkout (which may be under /tmp): the installer refuses
  // configs there (the unit's PrivateTmp would hide them).
  dir = mkdtempForService('systemd-');
  configPath = path.join(dir, 'agent.json');
  // Token and trust anchor in the temp dir, so the steps do not depend on this machine's /etc.
  const text = renderInitConfig({ agentId: 'edge-test' })
    .replace('/etc/wirefleet/control-token', path.join(dir, 'control-token'))
    .replace('/etc/wirefleet/addon-signing.pub', path.join(dir, 'trusted.pub'));
  writeFileSync(configPath, text, { mode: 0o600 });
  mkdirSync(path.join(dir, 'build'));
  writeFileSync(path.join(dir, 'build', 'addon-signing.pub'), 'PUBLIC KEY');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('renderUnit', () => {
  it('passes systemd-analyze verify with no warnings', async () => {
    const unitDir = path.join(dir, 'verify');
    mkdirSync(unitDir);
    writeFileSync(path.join(unitDir, UNIT_NAME), renderUnit({ execStart: EXEC_START, configPath }));
    const result = await run('systemd-analyze', ['verify', `./${UNIT_NAME}`], unitDir);
    expect(result.stderr).not.toContain(UNIT_NAME);
    expect(result.stdout).not.toContain(UNIT_NAME);
    expect(result.code).toBe(0);
  });

  it('has every hardening line and no MemoryDenyWriteExecute setting', () => {
    const unit = renderUnit({
      execStart: FIXED_EXEC_START,
      configPath: '/etc/wirefleet/agent.json',
    });
    const lines = unit.split('\n');
    for (const line of HARDENING) expect(lines).toContain(line);
    expect(lines).toContain(
      'ExecStart=/usr/bin/node /opt/wirefleet/bin/wirefleet.js agent run --config /etc/wirefleet/agent.json',
    );
    expect(lines.filter((l) => /^\s*MemoryDenyWriteExecute/.test(l))).toEqual([]);
    expect(unit).toMatch(/# MemoryDenyWriteExecute= is deliberately absent: V8/);
    // Nothing here lives under a home directory, so home directories are hidden entirely.
    expect(lines).toContain('ProtectHome=yes');
  });

  it('uses ProtectHome=read-only, with a comment, when the install is under /root or /home', () => {
    const unit = renderUnit({
      execStart: [process.execPath, '/root/wirefleet/bin/wirefleet.js'],
      configPath: '/etc/wirefleet/agent.json',
    });
    const settings = unit.split('\n').filter((l) => l.startsWith('ProtectHome='));
    expect(settings).toEqual(['ProtectHome=read-only']);
    expect(unit).toMatch(/# ProtectHome=yes would hide \/root\/wirefleet\/bin\/wirefleet\.js/);
  });

  it('quotes and escapes ExecStart words, and systemd reads them back', async () => {
    expect(quoteExecArg('/opt/wire fleet/bin/wirefleet.js')).toBe(
      '"/opt/wire fleet/bin/wirefleet.js"',
    );
    expect(quoteExecArg('/etc/100%/a$b.json')).toBe('/etc/100%%/a$$b.json');
    expect(quoteExecArg('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(() => quoteExecArg('a\nb')).toThrow(/control characters/);
    const weird = path.join(dir, 'we ird 100%', 'agent.json');
    const unitDir = path.join(dir, 'quoted');
    mkdirSync(unitDir);
    writeFileSync(
      path.join(unitDir, UNIT_NAME),
      renderUnit({ execStart: EXEC_START, configPath: weird }),
    );
    const result = await run('systemd-analyze', ['verify', `./${UNIT_NAME}`], unitDir);
    expect(result.stderr).not.toContain(UNIT_NAME);
    expect(result.code).toBe(0);
  });

  it('scores well in systemd-analyze security --offline', async (ctx) => {
    const unitDir = path.join(dir, 'security');
    mkdirSync(unitDir);
    writeFileSync(path.join(unitDir, UNIT_NAME), renderUnit({ execStart: EXEC_START, configPath }));
    const result = await run(
      'systemd-analyze',
      ['security', '--offline=yes', '--no-pager', `./${UNIT_NAME}`],
      unitDir,
    );
    if (/unrecognized option|Unknown option/i.test(result.stderr)) {
      ctx.skip('this systemd-analyze has no --offline');
    }
    const score = /Overall exposure level for \S+: ([\d.]+) (\S+)/.exec(result.stdout);
    expect(score, result.stderr).not.toBeNull();
    console.log(`systemd-analyze security exposure: ${score![1]} ${score![2]}`);
    expect(Number(score![1])).toBeLessThan(5.0);
  });
});

describe('installAgentService', () => {
  it('dry run returns the unit and the steps and writes nothing', async () => {
    const unitDir = path.join(dir, 'dry');
    mkdirSync(unitDir);
    const result = await installAgentService({
      configPath,
      dryRun: true,
      unitDir,
      execStart: EXEC_START,
      addonPath: path.join(dir, 'build', 'wirefleet_engine.node'),
    });
    expect(result.dryRun).toBe(true);
    expect(result.unit).toContain(`--config ${configPath}`);
    expect(result.steps.map((s) => s.command?.slice(1).join(' ') ?? s.description)).toEqual([
      `create the control API token ${path.join(dir, 'control-token')} if missing (0600)`,
      `install the addon signing key ${path.join(dir, 'build', 'addon-signing.pub')} as ${path.join(dir, 'trusted.pub')}`,
      `write ${path.join(unitDir, UNIT_NAME)}`,
      'daemon-reload',
      `enable ${UNIT_NAME}`,
      `start ${UNIT_NAME}`,
    ]);
    expect(result.steps.every((s) => !s.done)).toBe(true);
    expect(readdirSync(unitDir)).toEqual([]);
    expect(existsSync(path.join(dir, 'control-token'))).toBe(false);
    expect(existsSync(path.join(dir, 'trusted.pub'))).toBe(false);
  });

  it('without systemd it says so and writes nothing', async () => {
    const unitDir = path.join(dir, 'nosystemd');
    mkdirSync(unitDir);
    const attempt = installAgentService({
      configPath,
      unitDir,
      addonPath: path.join(dir, 'build', 'wirefleet_engine.node'),
      systemdRunDir: path.join(dir, 'no-run-systemd'),
    });
    await expect(attempt).rejects.toThrow(SystemdUnavailableError);
    await expect(attempt).rejects.toThrow(
      /systemd is not running on this machine .*nothing was changed/,
    );
    expect(readdirSync(unitDir)).toEqual([]);
    expect(existsSync(path.join(dir, 'control-token'))).toBe(false);
    expect(existsSync(path.join(dir, 'trusted.pub'))).toBe(false);
    const removal = uninstallAgentService({
      unitDir,
      systemdRunDir: path.join(dir, 'no-run-systemd'),
    });
    await expect(removal).rejects.toThrow(SystemdUnavailableError);
  });

  it('refuses a config that does not load', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ "agent_id": "edge-1", "mqtt": { "url": "http://x" } }');
    await expect(installAgentService({ configPath: bad, dryRun: true })).rejects.toThrow(
      `agent config ${bad}: mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL`,
    );
    await expect(runAgentInstall({ config: bad, 'dry-run': true })).rejects.toThrow(UsageError);
  });

  it('refuses a config or spool under /tmp, which PrivateTmp hides from the service', async () => {
    const tmpDir = mkdtempSync('/tmp/wirefleet-systemd-');
    try {
      const inTmp = path.join(tmpDir, 'agent.json');
      writeFileSync(inTmp, readFileSync(configPath));
      await expect(installAgentService({ configPath: inTmp, dryRun: true })).rejects.toThrow(
        /is under \/tmp, which the service cannot see/,
      );
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
  });

  it('refuses a spool outside the state directory, and a signing key beside the addon', async () => {
    const base = JSON.parse(stripJsonComments(readFileSync(configPath, 'utf8'))) as Record<
      string,
      Record<string, unknown>
    >;
    const variant = (name: string, patch: Record<string, Record<string, unknown>>) => {
      const file = path.join(dir, name);
      const merged = { ...base };
      for (const [key, value] of Object.entries(patch)) merged[key] = { ...base[key], ...value };
      writeFileSync(file, JSON.stringify(merged), { mode: 0o600 });
      return file;
    };
    await expect(
      installAgentService({
        configPath: variant('spool.json', { spool: { dir: path.join(dir, 'spool') } }),
        dryRun: true,
      }),
    ).rejects.toThrow(/spool.dir: .* is read-only to the service/);
    const addonDir = mkdtempSync(path.join(dir, 'addon-'));
    writeFileSync(path.join(addonDir, 'addon-signing.pub'), 'a key the build left here');
    await expect(
      installAgentService({
        configPath: variant('key.json', {
          integrity: { public_key_file: path.join(addonDir, 'addon-signing.pub') },
        }),
        dryRun: true,
        addonPath: path.join(addonDir, 'wirefleet_engine.node'),
      }),
    ).rejects.toThrow(/must not sit beside the addon/);
  });

  it('uninstall dry run lists stop, disable, remove, reload', async () => {
    const result = await uninstallAgentService({ dryRun: true, unitDir: dir });
    expect(result.steps.map((s) => s.command?.slice(1).join(' ') ?? s.description)).toEqual([
      `stop ${UNIT_NAME}`,
      `disable ${UNIT_NAME}`,
      `remove ${path.join(dir, UNIT_NAME)}`,
      'daemon-reload',
    ]);
  });
});

describe('wirefleet agent init / install (CLI functions)', () => {
  it('init writes a 0600 config that install --dry-run accepts, and will not overwrite', async () => {
    const out = path.join(dir, 'init', 'agent.json');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      runAgentInit({ out, id: 'edge-9', 'mqtt-url': 'mqtts://broker.example:8883' });
      expect(String(write.mock.calls.at(-1)?.[0])).toBe(
        `wrote ${out} (mode 0600); edit it, then: wirefleet agent install --config ${out}\n`,
      );
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(() => runAgentInit({ out })).toThrow(
        `${out} already exists; pass --force to overwrite it`,
      );
      runAgentInit({ out, id: 'edge-10', force: true });
      expect(statSync(out).mode & 0o777).toBe(0o600);

      write.mockClear();
      await runAgentInstall({ config: out, 'dry-run': true });
      const printed = write.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toContain('(dry run: nothing written)');
      expect(printed).toContain(`--config ${out}`);
      expect(printed).toContain('systemctl daemon-reload');
      expect(existsSync('/etc/systemd/system/wirefleet-agent.service')).toBe(false);
    } finally {
      write.mockRestore();
    }
  });

  it('init turns a bad --id or --mqtt-url into a usage error', () => {
    const out = path.join(dir, 'never.json');
    expect(() => runAgentInit({ out, id: 'Bad Id' })).toThrow(UsageError);
    expect(() => runAgentInit({ out, id: 'Bad Id' })).toThrow(/^--id: use a-z/);
    expect(() => runAgentInit({ out, 'mqtt-url': 'http://x' })).toThrow(
      '--mqtt-url: must be an mqtt://, mqtts://, ws:// or wss:// URL',
    );
    expect(existsSync(out)).toBe(false);
  });
});
