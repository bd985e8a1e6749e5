import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  type ConsolePage,
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

/** The routing playground in Debian's Chromium against the real local stack. */

let stack: ConsoleStack;
let browser: Browser;
let tab: ConsolePage;
let page: Page;

const decision = () => page.getByRole('region', { name: 'Decision' });

beforeAll(async () => {
  stack = await startConsoleStack({ localAgent: 'off' });
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await signIn(page, stack);
  await goTo(page, '/route', 'Route');
});
afterEach(() => tab?.errors.assertNone());
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await stack?.stop();
  await stopLeftoverStacks();
});

describeInBrowser('Route page (real Chromium, real local stack)', () => {
  it('routes an example query and shows the decision, its reasons and the packet', async () => {
    await page.getByRole('button', { name: 'Private' }).click();
    expect(await page.getByLabel('Priority').inputValue()).toBe('high');
    await page.getByLabel('Source EID').fill('10.1.0.42');
    await page.getByRole('button', { name: 'Route query' }).click();
    await decision().waitFor();
    const text = (await decision().textContent())!;
    expect(text).toContain('local_private');
    // Privacy is a hard rule: only local models, whose EIDs live in 10.4.0.0/16.
    expect(text).toMatch(/10\.1\.0\.42 → 10\.4\.0\.\d+/);
    const reasons = await decision().getByRole('listitem').allTextContents();
    expect(reasons.length).toBeGreaterThanOrEqual(3);
    expect(reasons.join('\n')).toMatch(/chosen/);
    // The API's own answer, for comparison with what the page shows.
    const packetId = (await decision().getByRole('link').first().textContent())!.trim();
    const stored = await stack.api(`/packets/${packetId}`);
    expect(stored.status).toBe(200);
    const { packet } = (await stored.json()) as Record<string, any>;
    expect(packet.inner_header.src_ip).toBe('10.1.0.42');
    expect(text).toContain(String(packet.lisp_header.nonce));
  });

  it('passes axe and is screenshot with a decision, wide and narrow', async () => {
    await expectNoSeriousA11yViolations(page, 'route');
    await saveScreenshot(page, 'route');
    await page.setViewportSize(NARROW);
    await expectNoSeriousA11yViolations(page, 'route (narrow)');
    await saveScreenshot(page, 'route-narrow');
    await page.setViewportSize(DESKTOP);
  });

  it('links the packet to its page in Packets', async () => {
    const link = decision().getByRole('link').first();
    const id = (await link.textContent())!.trim();
    await link.click();
    await page.getByRole('heading', { level: 1, name: `Packet ${id}` }).waitFor();
    await page.getByRole('region', { name: 'ASCII visualization of the packet' }).waitFor();
    await goTo(page, '/route', 'Route');
  });

  it('is usable by keyboard: type, Enter submits, focus moves to the decision', async () => {
    await page.getByRole('textbox', { name: 'Query' }).focus();
    await page.keyboard.type('What is DNS?');
    await page.keyboard.press('Tab'); // to the first example button
    await page.getByLabel('Source EID').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('10.2.0.8');
    await page.keyboard.press('Enter');
    await decision().getByText('10.2.0.8', { exact: false }).first().waitFor();
    await expect
      .poll(() => page.evaluate(() => (globalThis as any).document.activeElement?.id ?? ''))
      .toBe('');
    const focusedName = await page.evaluate(
      () => (globalThis as any).document.activeElement?.getAttribute('aria-labelledby') ?? '',
    );
    expect(focusedName).toBe('decision-title');
    expect(await decision().textContent()).toContain('10.2.0.8');
  });

  it("shows the API's validation message beside the field it names", async () => {
    // The 400 is the point of this test; Chromium logs every failed request.
    tab.errors.allow(/status of 400/);
    await page.getByLabel('Source EID').fill('224.0.0.9');
    await page.getByRole('button', { name: 'Route query' }).click();
    const field = page.getByLabel('Source EID');
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    const ids = (await field.getAttribute('aria-describedby'))!.split(' ');
    const error = await page.locator(`[id="${ids.at(-1)}"]`).textContent();
    expect(error).toBe('must be a unicast IPv4 address (not 0.x, 127.x, multicast or broadcast)');
    await saveScreenshot(page, 'route-validation');
    await page.getByLabel('Source EID').fill('10.1.0.5');
  });

  it('asks for a query before sending an empty one', async () => {
    await page.getByRole('textbox', { name: 'Query' }).fill('   ');
    await page.getByRole('button', { name: 'Route query' }).click();
    const field = page.getByRole('textbox', { name: 'Query' });
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    await page.getByText('Enter a query to route.').waitFor();
  });
});
