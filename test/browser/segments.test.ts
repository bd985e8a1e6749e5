import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

/** An agent registered with a password that never connects, so it has recorded nothing. */
const AGENT = 'evidence-edge-1';

describeInBrowser('Evidence segments on the agent page (real Chromium, real local stack)', () => {
  let stack: ConsoleStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startConsoleStack({ localAgent: 'off' });
    browser = await launchBrowser();
    const registered = await stack.api('/agents', { method: 'POST', json: { agent_id: AGENT } });
    expect(registered.status).toBe(201);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('says how to enable recording, checks the window form and shows the API refusal as it is', async () => {
    const listed = await stack.api(`/agents/${AGENT}/segments`);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ segments: [], next_token: null });

    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, `#/agents/${AGENT}`, `Agent ${AGENT}`);
      const panel = page.getByRole('region', { name: 'Evidence segments' });
      await panel.getByText('No evidence segments').waitFor();
      const hint = await panel.locator('.status-hint').textContent();
      expect(hint).toContain('evidence.enabled');
      expect(hint).toContain('POST /packet_capture/capture/encryption/enable');

      // With nothing listed the form offers a window (the last hour) rather than empty fields.
      const from = panel.getByLabel('Window from');
      const to = panel.getByLabel('Window to');
      expect(await from.inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
      expect(await to.inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/);

      // A start after the end is refused on the field, before any request.
      const requests: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/segments/download')) requests.push(r.url());
      });
      await from.fill('2026-01-05T12:00');
      await to.fill('2026-01-05T11:00');
      await panel.getByRole('button', { name: 'Prepare window' }).click();
      await panel.getByText('The start must not be after the end').waitFor();
      expect(await from.getAttribute('aria-invalid')).toBe('true');
      expect(requests).toEqual([]);

      // A valid window with no segments: the API's own code and message, shown as they are.
      await from.fill('2026-01-05T10:00');
      await panel.getByRole('button', { name: 'Prepare window' }).click();
      const alert = panel.getByRole('alert');
      await alert.waitFor();
      const [since, until] = await page.evaluate(() => [
        new Date('2026-01-05T10:00').getTime() / 1000,
        new Date('2026-01-05T11:00').getTime() / 1000,
      ]);
      const refused = await stack.api(
        `/segments/download?agent_id=${AGENT}&since=${since}&until=${until}`,
        { headers: { Accept: 'application/json' } },
      );
      expect(refused.status).toBe(404);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('no_segments');
      const shown = await alert.textContent();
      expect(shown).toContain('Could not prepare the window');
      expect(shown).toContain(body.error.code);
      expect(shown).toContain(body.error.message);
      expect(requests).toHaveLength(1);
      expect(new URL(requests[0] as string).searchParams.get('since')).toBe(String(since));

      await expectNoSeriousA11yViolations(page, 'agent segments (empty)');
      await saveScreenshot(page, 'agent-segments-empty');
      errors.allow(/status of 404/);
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
