import mqtt, { type MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentTopic } from '../../protocol/agent-messages.js';
import type { TangoPathsMessage } from '../../protocol/tango-paths.js';
import { pathsMessage, tangoPath } from '../helpers/tango-paths.js';
import {
  type ConsoleStack,
  DESKTOP,
  describeInBrowser,
  expectNoSeriousA11yViolations,
  goTo,
  launchBrowser,
  openPage,
  saveScreenshot,
  signIn,
  startConsoleStack,
  stopLeftoverStacks,
} from './harness.js';

/** Registered, never publishes paths. */
const QUIET = 'paths-edge-0';
/** A Tango node that reports two paths with a long interval (fresh for the whole test). */
const NODE = 'paths-edge-1';
/** A Tango node that reports once with a 1 s interval: stale 3 s later. */
const GONE = 'paths-edge-2';

type Json = Record<string, any>;

/** Registers an agent through the API and connects it to the stack's broker with its password. */
async function connectAgent(stack: ConsoleStack, agentId: string): Promise<MqttClient> {
  const registered = await stack.api('/agents', { method: 'POST', json: { agent_id: agentId } });
  expect(registered.status).toBe(201);
  const { mqtt: credentials } = (await registered.json()) as Json;
  return mqtt.connectAsync(credentials.url, {
    clientId: credentials.client_id,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0,
  });
}

/** Publishes as the agent and waits until the API serves the report (ingest runs after PUBACK). */
async function publishPaths(
  stack: ConsoleStack,
  client: MqttClient,
  agentId: string,
  message: TangoPathsMessage,
) {
  await client.publishAsync(agentTopic(agentId, 'paths'), JSON.stringify(message), { qos: 1 });
  for (;;) {
    const body = (await (await stack.api(`/agents/${agentId}/paths`)).json()) as Json;
    if (body.sent_at === message.sent_at) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeInBrowser('Tango paths on the agent page (real Chromium, real local stack)', () => {
  let stack: ConsoleStack;
  let browser: Browser;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    stack = await startConsoleStack({ localAgent: 'off' });
    browser = await launchBrowser();
    const quiet = await stack.api('/agents', { method: 'POST', json: { agent_id: QUIET } });
    expect(quiet.status).toBe(201);
    clients.push(await connectAgent(stack, NODE), await connectAgent(stack, GONE));
  }, 120_000);
  afterAll(async () => {
    for (const client of clients) await client.endAsync(true);
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('says where paths come from when the agent reports none', async () => {
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, `#/agents/${QUIET}`, `Agent ${QUIET}`);
      const panel = page.getByRole('region', { name: 'Tango paths' });
      await panel.getByText('No Tango paths').waitFor();
      expect(await panel.locator('.status-hint').textContent()).toContain(
        'Paths come from agents running Tango nodes',
      );
      expect(await panel.getByRole('table').count()).toBe(0);
      await expectNoSeriousA11yViolations(page, 'agent paths (empty)');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('shows each path with its delay, jitter, loss, reorder, throughput and age, fresh', async () => {
    const sentAt = Date.now() / 1000;
    await publishPaths(
      stack,
      clients[0]!,
      NODE,
      pathsMessage(
        sentAt,
        [
          tangoPath(2, {
            peer_rloc: '203.0.113.9',
            delay_ms: 12.4,
            jitter_ms: 0.3,
            loss: 0.05,
            reorder: 0.0123,
            packets: 4200,
            throughput_bps: 9_500_000,
            rejects: { bad_signature: 3, replay: 1 },
          }),
          tangoPath(0, { peer_rloc: '198.51.100.7', delay_ms: 40, jitter_ms: 1.25, loss: 0 }),
        ],
        { interval_s: 3600 },
      ),
    );
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, `#/agents/${NODE}`, `Agent ${NODE}`);
      const panel = page.getByRole('region', { name: 'Tango paths' });
      const table = panel.getByRole('table', { name: `Tango paths of ${NODE}` });
      const rows = table.locator('tbody tr');
      await rows.nth(1).waitFor();
      expect(await rows.count()).toBe(2);
      await panel.getByText('to site B (site-b), measured over').waitFor();

      // Sorted by path id; fractions shown as percentages, throughput in bit/s.
      const first = await rows.nth(0).locator('td').allTextContents();
      const second = await rows.nth(1).locator('td').allTextContents();
      expect(first.slice(0, 2)).toEqual(['0', '198.51.100.7']);
      expect(first[2]).toBe('fd00:0::1 → fd00:0::2');
      expect(first.slice(3, 7)).toEqual(['40 ms', '1.3 ms', '0 %', '0 %']);
      expect(second.slice(0, 2)).toEqual(['2', '203.0.113.9']);
      expect(second.slice(3, 9)).toEqual([
        '12.4 ms',
        '0.3 ms',
        '5 %',
        '1.2 %',
        '9.5 Mbit/s',
        '4,200 (4 refused)',
      ]);
      await rows.nth(1).getByTitle('Refused: bad_signature 3, replay 1').waitFor();
      expect(second[9]).toContain('fresh');
      expect(first[9]).toContain('fresh');

      await expectNoSeriousA11yViolations(page, 'agent paths (fresh)');
      await saveScreenshot(page, 'agent-paths');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('flags a report as stale once 3 of its intervals pass without a new one', async () => {
    await publishPaths(
      stack,
      clients[1]!,
      GONE,
      pathsMessage(Date.now() / 1000, [tangoPath(1, { delay_ms: 7 })], { interval_s: 1 }),
    );
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, `#/agents/${GONE}`, `Agent ${GONE}`);
      const panel = page.getByRole('region', { name: 'Tango paths' });
      const row = panel.getByRole('table').locator('tbody tr').first();
      await row.waitFor();
      // The page refreshes every 5 s; by the next refresh the report is over 3 s old.
      const badge = row.getByText('stale', { exact: true });
      await badge.waitFor();
      expect(await badge.getAttribute('title')).toBe(
        'No report for more than 3 intervals of 1 s: routing ignores these paths',
      );
      const api = (await (await stack.api(`/agents/${GONE}/paths`)).json()) as Json;
      expect(api.stale).toBe(true);
      await expectNoSeriousA11yViolations(page, 'agent paths (stale)');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
