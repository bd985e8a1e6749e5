import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type ConsoleStack,
  describeInBrowser,
  launchBrowser,
  openPage,
  signIn,
  startConsoleStack,
  stopLeftoverStacks,
} from './harness.js';

describeInBrowser('console sign-in (real Chromium, real local stack)', () => {
  let stack: ConsoleStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startConsoleStack();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('signs in with the API token and shows the Packets page', async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, stack);
      await page.getByRole('heading', { level: 1, name: 'Packets' }).waitFor();
      expect(page.url()).toContain('#/packets');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
