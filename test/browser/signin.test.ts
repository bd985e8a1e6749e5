import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type ConsoleStack,
  describeInBrowser,
  expectNoSeriousA11yViolations,
  launchBrowser,
  NARROW,
  openPage,
  saveScreenshot,
  signIn,
  startConsoleStack,
  stopLeftoverStacks,
} from './harness.js';

/** Sign-in, sign-out and a token the API refuses, in Debian's Chromium against the real stack. */

let stack: ConsoleStack;
let browser: Browser;

const storedToken = (page: import('playwright-core').Page) =>
  page.evaluate(() => ({
    session: (globalThis as any).sessionStorage.getItem('wirefleet.api-token') as string | null,
    local: (globalThis as any).localStorage.length as number,
  }));

beforeAll(async () => {
  stack = await startConsoleStack({ localAgent: 'off' });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stopLeftoverStacks();
});

describeInBrowser('console sign-in (real Chromium, real local stack)', () => {
  it('serves the console with its security headers', async () => {
    const res = await fetch(stack.url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    const js = /src="(\/assets\/main-[A-Z0-9]{8}\.js)"/.exec(html)![1]!;
    const asset = await fetch(new URL(js, stack.url));
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // Everything that is not the console stays the API's: JSON errors, not the page.
    const missing = await stack.api('/nothing-here');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('not_found');
    const outside = await fetch(new URL('/not-the-console', stack.url));
    expect(outside.status).toBe(404);
    expect(outside.headers.get('content-type')).toContain('application/json');
    const noAsset = await fetch(new URL('/assets/../../package.json', stack.url));
    expect(noAsset.status).toBe(404);
  });

  it('signs in by keyboard only; the token stays in session storage, never in the address', async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await page.goto(stack.url);
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await expectNoSeriousA11yViolations(page, 'sign-in');
      await saveScreenshot(page, 'signin');
      // The token field has focus on arrival.
      await page.keyboard.type(stack.token);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Packets' }).waitFor();
      expect(page.url()).not.toContain(stack.token);
      expect(page.url()).toMatch(/#\/packets$/);
      expect(await storedToken(page)).toEqual({ session: stack.token, local: 0 });
      // The main navigation by keyboard: Tab to "Route", Enter, focus lands on the page heading.
      const nav = page.getByRole('navigation', { name: 'Main' });
      for (const name of ['Packets', 'Route', 'Flows', 'Agents', 'Mappings', 'Custody']) {
        await nav.getByRole('link', { name, exact: true }).waitFor();
      }
      await nav.getByRole('link', { name: 'Packets' }).focus();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Route' }).waitFor();
      await expect
        .poll(() => page.evaluate(() => (globalThis as any).document.activeElement?.tagName))
        .toBe('H1');
      expect(await nav.getByRole('link', { name: 'Route' }).getAttribute('aria-current')).toBe(
        'page',
      );
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('sign-out forgets the token and says so', async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, stack);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await page.getByText('You signed out.').waitFor();
      expect((await storedToken(page)).session).toBeNull();
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it("refuses a bad token with the API's message", async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      // The 401 is the point; Chromium logs it as a failed resource.
      errors.allow(/status of 401/);
      await page.goto(stack.url);
      await page.getByLabel('API token').fill('wf_not-a-real-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const field = page.getByLabel('API token');
      await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
      const ids = (await field.getAttribute('aria-describedby'))!.split(' ');
      const message = await page.locator(`[id="${ids.at(-1)}"]`).textContent();
      expect(message).toBe('the bearer token is not valid (invalid_token)');
      expect((await storedToken(page)).session).toBeNull();
      await saveScreenshot(page, 'signin-bad-token');
      await page.setViewportSize(NARROW);
      await expectNoSeriousA11yViolations(page, 'sign-in (narrow, error)');
      await saveScreenshot(page, 'signin-narrow');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it("a token the API stops accepting returns to sign-in with the API's message", async () => {
    // The API has no token revocation yet: a token it does not know is what a
    // revoked one looks like to the console (the same 401 invalid_token).
    const { page, errors, close } = await openPage(browser);
    try {
      errors.allow(/status of 401/);
      await signIn(page, stack);
      await page.evaluate(() =>
        (globalThis as any).sessionStorage.setItem('wirefleet.api-token', 'wf_revoked-token-000'),
      );
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      const alert = page.getByRole('alert');
      await alert.getByText('Signed out by the API').waitFor();
      expect(await alert.textContent()).toContain('invalid_token the bearer token is not valid');
      expect((await storedToken(page)).session).toBeNull();
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('names an unknown page and links back', async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, stack);
      await page.evaluate(() => {
        (globalThis as any).location.hash = '#/nowhere';
      });
      await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
      await page.getByRole('main').getByRole('link', { name: 'Packets' }).click();
      await page.getByRole('heading', { level: 1, name: 'Packets' }).waitFor();
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
