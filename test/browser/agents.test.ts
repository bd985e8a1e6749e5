import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type ConsoleStack,
  DESKTOP,
  describeInBrowser,
  expectNoSeriousA11yViolations,
  goTo,
  launchBrowser,
  NARROW,
  openPage,
  saveScreenshot,
  signIn,
  startConsoleStack,
  stopLeftoverStacks,
} from './harness.js';

interface ApiAgent {
  agent_id: string;
  status: string;
  version: string | null;
  backend: string | null;
  capture: { running: boolean } | null;
  metrics: { capture: { packets_captured: number } } | null;
}

interface ApiCommand {
  command_id: string;
  action: string;
  status: string;
  reply: { result?: Record<string, unknown>; error?: { code: string; message: string } } | null;
}

/** An agent registered with a password that never connects: the API calls it never_seen. */
const SILENT_AGENT = 'silent-edge-1';

/**
 * Records every text the command panel's live region shows, in order, so a
 * test can check the states it went through without racing the page.
 */
async function recordCommandStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as any;
    const region = w.document.querySelector('.command-progress');
    w.__commandStates = [region.textContent];
    new w.MutationObserver(() => {
      const text = region.textContent;
      if (w.__commandStates.at(-1) !== text) w.__commandStates.push(text);
    }).observe(region, { childList: true, subtree: true, characterData: true });
  });
}

/**
 * Straight to an agent's page, from wherever the test is (after sign-in, Packets). The router
 * must swap the page before any page sees the new address: Packets once asked for packet
 * "<agent id>" here, a 400 the console-error collector would catch.
 */
async function openAgent(page: Page, agentId: string): Promise<void> {
  await goTo(page, `#/agents/${agentId}`, `Agent ${agentId}`);
}

const commandStates = (page: Page) =>
  page.evaluate(() => (globalThis as any).__commandStates as string[]);

describeInBrowser('Agents pages (real Chromium, real local stack and its agent)', () => {
  let stack: ConsoleStack;
  let browser: Browser;

  async function agent(id: string): Promise<ApiAgent> {
    return (await (await stack.api(`/agents/${id}`)).json()) as ApiAgent;
  }

  beforeAll(async () => {
    stack = await startConsoleStack();
    browser = await launchBrowser();
    const registered = await stack.api('/agents', {
      method: 'POST',
      json: { agent_id: SILENT_AGENT },
    });
    expect(registered.status).toBe(201);
    // The local agent is online once its heartbeat is in, and its one replay is done.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const local = await agent(stack.agentId);
      if (local.status === 'online' && local.metrics && local.capture?.running === false) break;
      if (Date.now() > deadline) throw new Error(`local agent not ready: ${JSON.stringify(local)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('lists the agents with status, last seen, version, backend and announcements', async () => {
    const local = await agent(stack.agentId);
    for (const viewport of [DESKTOP, NARROW] as const) {
      const { page, errors, close } = await openPage(browser, viewport);
      try {
        await signIn(page, stack);
        await goTo(page, '#/agents', 'Agents');
        const table = page.getByRole('table', { name: 'Agents' });
        const row = table.getByRole('row', { name: `Open agent ${stack.agentId} (online)` });
        await row.waitFor();
        const cells = await row.locator('td').allTextContents();
        expect(cells.slice(0, 5)).toEqual([
          stack.agentId,
          'online',
          expect.stringMatching(/just now|\d+ s ago/),
          local.version,
          local.backend,
        ]);
        // The local agent announces nothing for routing; the page says so rather than leaving blanks.
        expect(cells.slice(6)).toEqual(['none', 'none']);
        const silent = table.getByRole('row', { name: `Open agent ${SILENT_AGENT} (never seen)` });
        expect(await silent.locator('td').nth(2).textContent()).toBe('never');
        await page.getByText('1 online').waitFor();
        await expectNoSeriousA11yViolations(page, `agents (${viewport.width}px)`);
        await saveScreenshot(page, viewport === DESKTOP ? 'agents-desktop' : 'agents-narrow');

        if (viewport === DESKTOP) {
          // Keyboard: Enter on a row opens the agent.
          await row.focus();
          await page.keyboard.press('Enter');
          await page.getByRole('heading', { level: 1, name: `Agent ${stack.agentId}` }).waitFor();
          expect(page.url()).toContain(`#/agents/${stack.agentId}`);
        }
        errors.assertNone();
      } finally {
        await close();
      }
    }
  });

  it("shows the local agent's metrics, events and a status command's reply", async () => {
    const local = await agent(stack.agentId);
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await openAgent(page, stack.agentId);
      // The metrics cards carry the latest sample: the replay's packet count.
      const captured = page.getByRole('definition').filter({ hasText: /packets, .* this session/ });
      await captured.waitFor();
      expect(await captured.textContent()).toContain(
        local.metrics!.capture.packets_captured.toLocaleString('en-US'),
      );
      await page.getByRole('img', { name: /^Packets captured per second/ }).waitFor();
      await page.getByRole('img', { name: /^Packets dropped per second/ }).waitFor();
      const events = page.getByRole('table', { name: `Events of ${stack.agentId}` });
      await events.getByRole('cell', { name: 'agent_started' }).waitFor();
      await events.getByRole('cell', { name: 'capture_stopped' }).waitFor();

      await recordCommandStates(page);
      await page.getByLabel('Command', { exact: true }).selectOption('status');
      await page.getByRole('button', { name: 'Send command' }).click();
      const reply = page.getByText('Reply: ok');
      await reply.waitFor({ timeout: 30_000 });
      const states = await commandStates(page);
      const pending = states.findIndex((s) => s.includes('Pending: waiting'));
      const ok = states.findIndex((s) => s.includes('Reply: ok'));
      expect(pending).toBeGreaterThanOrEqual(0);
      expect(ok).toBeGreaterThan(pending);

      // The reply on the page is the one the API stored for that command.
      const commandId = (await page
        .locator('.command-progress [title="Command id"]')
        .textContent())!;
      const stored = (await (
        await stack.api(`/agents/${stack.agentId}/commands/${commandId}`)
      ).json()) as ApiCommand;
      expect(stored).toMatchObject({ action: 'status', status: 'ok' });
      const result = page.getByLabel('Command result');
      const row = (key: string) =>
        result.getByRole('term').filter({ hasText: new RegExp(`^${key.replace('.', '\\.')}$`) });
      await row('backend').waitFor();
      expect(stored.reply!.result!.backend).toBe('file');
      expect(await row('backend').locator('xpath=following-sibling::dd[1]').textContent()).toBe(
        'file',
      );
      expect(
        await row('metrics.packets_captured')
          .locator('xpath=following-sibling::dd[1]')
          .textContent(),
      ).toBe(
        Number(
          (stored.reply!.result!.metrics as { packets_captured: number }).packets_captured,
        ).toLocaleString('en-US'),
      );
      // The recent-commands list picks it up.
      await page
        .getByRole('table', { name: 'Recent commands' })
        .getByRole('row', { name: 'Show the reply to status (ok)' })
        .waitFor();

      await expectNoSeriousA11yViolations(page, 'agent detail');
      await saveScreenshot(page, 'agent-detail-desktop');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it("shows the agent's error reply to a command it refuses", async () => {
    const { page, errors, close } = await openPage(browser, NARROW);
    try {
      await signIn(page, stack);
      await openAgent(page, stack.agentId);
      await page.getByLabel('Command', { exact: true }).selectOption('capture.stop');
      await page.getByRole('button', { name: 'Send command' }).click();
      // The replay ended long ago: there is no capture to stop.
      const failed = page.locator('.command-progress').getByText(/Failed/);
      await failed.waitFor({ timeout: 30_000 });
      const text = await page.locator('.command-progress').textContent();
      expect(text).toContain('not_running');
      expect(text).toContain('no capture is running');
      await expectNoSeriousA11yViolations(page, 'agent detail (narrow)');
      await saveScreenshot(page, 'agent-detail-narrow');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('warns before commanding an agent that was never seen, and shows it has no metrics', async () => {
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await openAgent(page, SILENT_AGENT);
      await page.getByText(`${SILENT_AGENT} is not seen yet`).waitFor();
      await page.getByText('No metrics yet').waitFor();
      await page.getByText('No events in the last 30 days').waitFor();
      await expectNoSeriousA11yViolations(page, 'agent never seen');
      await saveScreenshot(page, 'agent-never-seen');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});

describeInBrowser('Agents and Flows pages of a tenant with no agents yet (real Chromium)', () => {
  let stack: ConsoleStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startConsoleStack({ localAgent: 'off' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('says how to register an agent, and that flows come from agents', async () => {
    expect(await (await stack.api('/agents')).json()).toEqual({ agents: [], next_token: null });
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, '#/agents', 'Agents');
      const empty = page.getByText('No agents yet');
      await empty.waitFor();
      await page.getByText('wirefleet agent register', { exact: true }).waitFor();
      await expectNoSeriousA11yViolations(page, 'agents (none)');
      await saveScreenshot(page, 'agents-empty');

      await goTo(page, '#/flows', 'Flows');
      await page.getByText('No flows yet').waitFor();
      await page.getByRole('link', { name: 'Agents' }).last().waitFor();
      await expectNoSeriousA11yViolations(page, 'flows (none)');
      await saveScreenshot(page, 'flows-empty');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
