import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntryName, TEMP_PREFIX } from '../../agent/spool/files.js';
import { createIngestDeps } from '../../functions/ingest/index.js';
import { destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TENANT } from '../../functions/store/tenants.js';
import { flowBatchSchema } from '../../protocol/agent-messages.js';
import {
  type AgentProcess,
  eventually,
  registerAgent,
  startAgentProcess,
} from '../helpers/agent-process.js';
import { writePcap } from '../helpers/capture-gen.js';
import { manyFlowsScenario } from '../helpers/capture-scenarios.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

// `wirefleet agent run` as a real process, stopped with SIGTERM while it spools and publishes
// (aedes, ingest and dynalite in the test stack). Every stop exits 0 and leaves a spool the next
// run reads as it is; in the end every record is stored exactly once.

const work = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-agent-stop-'));
const AGENT = 'stop-agent';
const FLOWS = 3000;
let stack: TestStack;
let configPath: string;
let spoolDir: string;
let deps: ReturnType<typeof createIngestDeps>;

beforeAll(async () => {
  stack = await startTestStack({ mqttPort: 0 });
  deps = createIngestDeps(stack.config);
  const capture = path.join(work, 'many.pcap');
  writeFileSync(capture, writePcap(manyFlowsScenario(FLOWS).frames));
  const registered = await registerAgent({
    apiUrl: stack.apiUrl,
    token: stack.token,
    id: AGENT,
    dir: work,
    file: capture,
    patch: {
      // Small batches: many spool writes and publishes for the stops to land in.
      flows: { batch_max_records: 20, summary_interval_sec: 1 },
      mqtt: { reconnect_min_ms: 100, reconnect_max_ms: 1000 },
    },
  });
  configPath = registered.configPath;
  spoolDir = path.join(String(registered.config.spool!.dir));
});

/** Every agent started, so one a failed assertion left running is stopped in afterAll. */
const started: AgentProcess[] = [];
const startAgent = () => {
  const agent = startAgentProcess(configPath);
  started.push(agent);
  return agent;
};

afterAll(async () => {
  await Promise.all(started.map((agent) => agent.kill9()));
  if (deps) destroyStoreClients(deps.clients);
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

const stored = () => deps.flows.count(DEFAULT_TENANT, AGENT);

/** What a crash-safe spool leaves: no temp files, every entry whole and parseable, a readable state. */
function expectConsistentSpool() {
  const entriesDir = path.join(spoolDir, 'entries');
  const names = existsSync(entriesDir) ? readdirSync(entriesDir) : [];
  const problems: string[] = [];
  for (const name of names) {
    const parsed = parseEntryName(name);
    if (name.startsWith(TEMP_PREFIX) || !parsed) {
      problems.push(`unexpected file ${name}`);
      continue;
    }
    const text = readFileSync(path.join(entriesDir, name), 'utf8');
    try {
      const body = JSON.parse(text);
      if (parsed.channel === 'flows') {
        const batch = flowBatchSchema.parse(body);
        if (batch.records.length !== parsed.records) problems.push(`${name}: record count`);
      }
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message.slice(0, 80)}`);
    }
  }
  const state = path.join(spoolDir, 'state.json');
  if (existsSync(state)) {
    try {
      JSON.parse(readFileSync(state, 'utf8'));
    } catch {
      problems.push('state.json does not parse');
    }
  }
  expect(problems).toEqual([]);
  return names.length;
}

/** Stops with SIGTERM; the exit is 0 and nothing was logged at error level. */
async function expectCleanStop(agent: AgentProcess, what: string) {
  const { code, signal } = await agent.stop();
  const errors = agent
    .output()
    .split('\n')
    .filter((l) => /"level":"error"|^\s+at |Error:|again while stopping/.test(l));
  expect({ what, code, signal, errors }, agent.output().slice(-3000)).toEqual({
    what,
    code: 0,
    signal: null,
    errors: [],
  });
}

const spoolEntries = () => {
  const dir = path.join(spoolDir, 'entries');
  return existsSync(dir) ? readdirSync(dir).length : 0;
};

/**
 * The highest spool sequence on disk: in an entry's name, or in state.json (written when the
 * spool empties). It only grows, so it shows writes even when publishing drains the spool as
 * fast as it fills (a count of entries present at one moment does not).
 */
const spoolSequence = () => {
  const dir = path.join(spoolDir, 'entries');
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const seqs = names.map((name) => parseEntryName(name)?.seq ?? 0);
  const state = path.join(spoolDir, 'state.json');
  try {
    if (existsSync(state)) seqs.push(Number(JSON.parse(readFileSync(state, 'utf8')).last_seq) || 0);
  } catch {
    // Unreadable for a moment: the entries' names still count.
  }
  return Math.max(0, ...seqs);
};

describe('wirefleet agent run: SIGTERM while spooling and publishing', () => {
  it('exits 0 every time, leaves a consistent spool, and in the end stores every record once', async () => {
    const soon = (what: string, check: () => boolean | Promise<boolean>, everyMs = 5) =>
      eventually(async () => ((await check()) ? true : undefined), what, 60_000, everyMs);
    const moments: { what: string; until: (agent: AgentProcess) => Promise<unknown> }[] = [
      { what: 'as it starts', until: async () => undefined },
      {
        what: 'mid-publish (records being stored)',
        until: async () => {
          const before = await stored();
          await soon('more records stored', async () => (await stored()) > before, 20);
        },
      },
      {
        what: 'mid-spool (entries being written)',
        until: async () => {
          const before = spoolSequence();
          await soon('20 more spool writes', () => spoolSequence() >= before + 20);
        },
      },
      {
        what: 'right after it connects, twice (a copy, as `npm start` forwards it)',
        until: async (agent) => {
          await soon('the connection', () => /uplink connected/.test(agent.output()));
          agent.child.kill('SIGTERM');
        },
      },
    ];
    const seen: string[] = [];
    for (const { what, until } of moments) {
      const agent = startAgent();
      // Its first log line: it is running (before that, node has not run a line of ours).
      await soon('a log line', () => agent.output() !== '');
      await until(agent);
      await expectCleanStop(agent, what);
      const left = expectConsistentSpool();
      seen.push(`${what}: ${left} entries left, ${await stored()} records stored`);
      console.info(seen.at(-1));
    }
    console.info(`agent stops: ${seen.join('; ')}`);

    // A last run delivers the rest: the capture replays with the same record ids, the spool
    // resends what was never acknowledged, and ingest keeps one copy of each.
    const agent = startAgent();
    await eventually(
      async () => ((await stored()) >= FLOWS && spoolEntries() === 0 ? true : undefined),
      `${FLOWS} records stored and the spool empty`,
      120_000,
    );
    await expectCleanStop(agent, 'after delivering everything');
    expectConsistentSpool();
    expect(await stored()).toBe(FLOWS);
  }, 180_000);
});
