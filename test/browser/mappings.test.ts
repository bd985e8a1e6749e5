import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type ConsoleStack,
  DESKTOP,
  describeInBrowser,
  expectFocused,
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

interface ApiMappings {
  is_default: boolean;
  updated_at: string | null;
  models: { name: string; eid: string; latency_ms: number }[];
  eid_prefixes: { prefix: string; description: string }[];
  source_locators: { rloc: string }[];
}

/** The error line a control is described by (Field binds it with aria-describedby). */
async function errorLineOf(control: Locator): Promise<string> {
  // Runs in the page (the test tsconfig has no DOM types).
  return control.evaluate((el: any) => {
    const ids: string[] = (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
    return ids
      .map((id) => el.ownerDocument.getElementById(id))
      .filter((line: any) => line?.classList.contains('field-error'))
      .map((line: any) => line.textContent as string)
      .join(' ');
  });
}

describeInBrowser('Mappings page (real Chromium, real local stack)', () => {
  let stack: ConsoleStack;
  let browser: Browser;
  const mappings = async () => (await (await stack.api('/mappings')).json()) as ApiMappings;

  beforeAll(async () => {
    stack = await startConsoleStack({ localAgent: 'off' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it('shows what the API refuses beside the fields it names, and saves nothing', async () => {
    const before = await mappings();
    expect(before.is_default).toBe(true);
    const { page, errors, close } = await openPage(browser, DESKTOP);
    // The refused PUT is a 400, which Chromium logs as a failed resource.
    errors.allow(/status of 400/);
    try {
      await signIn(page, stack);
      await goTo(page, '#/mappings', 'Mappings');
      // Every model, prefix and source locator the API holds is on the page.
      for (const [i, model] of before.models.entries()) {
        const card = page.getByRole('group', { name: `Model ${i + 1}: ${model.name}` });
        expect(await card.getByLabel('EID').inputValue()).toBe(model.eid);
      }
      for (const [i, entry] of before.eid_prefixes.entries()) {
        const card = page.getByRole('group', { name: `EID prefix ${i + 1}: ${entry.prefix}` });
        expect(await card.getByLabel('Description').inputValue()).toBe(entry.description);
      }
      expect(await page.getByRole('textbox', { name: 'Source RLOC 1' }).inputValue()).toBe(
        before.source_locators[0]!.rloc,
      );
      await page.getByText('never: this tenant uses the built-in default').waitFor();
      await expectNoSeriousA11yViolations(page, 'mappings');
      await saveScreenshot(page, 'mappings-desktop');

      // Two edits the API refuses: a prefix longer than /32 and a model EID no prefix covers.
      const prefixCard = page.getByRole('group', { name: /^EID prefix 4: / });
      const prefix = prefixCard.getByLabel('Prefix', { exact: true });
      await prefix.fill('10.2.0.0/33');
      const modelEid = page.getByRole('group', { name: /^Model 3: / }).getByLabel('EID');
      await modelEid.fill('10.9.0.1');
      await page.getByText('Unsaved changes').first().waitFor();
      await page.getByRole('button', { name: 'Save mappings' }).first().click();

      const summary = page.getByRole('alert').filter({ hasText: 'The API refused the mappings' });
      await summary.waitFor();
      await expectFocused(summary);
      expect(await prefix.getAttribute('aria-invalid')).toBe('true');
      expect(await modelEid.getAttribute('aria-invalid')).toBe('true');
      const prefixError = await errorLineOf(prefix);
      const eidError = await errorLineOf(modelEid);
      expect(prefixError).toContain('prefix length must be 0-32');
      expect(eidError).toBe('EID 10.9.0.1 is not covered by any eid_prefixes entry');
      // The lines are the API's own words for the same document.
      const document = { ...before } as Partial<ApiMappings>;
      delete document.is_default;
      delete document.updated_at;
      delete (document as Record<string, unknown>).instance_id;
      document.eid_prefixes![3] = { ...before.eid_prefixes[3]!, prefix: '10.2.0.0/33' };
      document.models![2] = { ...before.models[2]!, eid: '10.9.0.1' };
      const refused = await stack.api('/mappings', { method: 'PUT', json: document });
      expect(refused.status).toBe(400);
      const apiMessage = ((await refused.json()) as { error: { message: string } }).error.message;
      expect(apiMessage).toContain(`eid_prefixes.3.prefix: ${prefixError}`);
      expect(apiMessage).toContain(`models.2.eid: ${eidError}`);
      // Nothing was stored.
      expect((await mappings()).is_default).toBe(true);
      await expectNoSeriousA11yViolations(page, 'mappings with errors');
      await saveScreenshot(page, 'mappings-errors');

      // The summary leads to the field; fixing the field retires its error.
      await summary
        .getByRole('button', { name: /EID prefix 4 \(10\.2\.0\.0\/33\) › prefix/ })
        .click();
      expect(await prefix.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
      await prefix.fill('10.2.0.0/16');
      expect(await prefix.getAttribute('aria-invalid')).toBeNull();
      expect(await modelEid.getAttribute('aria-invalid')).toBe('true');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('saves a valid edit, says so, and shows it after a reload', async () => {
    const description = 'Fast response workloads (edited in the console)';
    const { page, errors, close } = await openPage(browser, NARROW);
    try {
      await signIn(page, stack);
      await goTo(page, '#/mappings', 'Mappings');
      const prefixCard = page.getByRole('group', { name: 'EID prefix 4: 10.2.0.0/16' });
      await prefixCard.getByLabel('Description').fill(description);
      const gpt = page.getByRole('group', { name: 'Model 1: gpt-4' });
      await gpt.getByLabel('Latency (ms)').fill('1111');
      await page.getByRole('button', { name: 'Save mappings' }).last().click();
      const saved = page.getByRole('status').filter({ hasText: /^Saved at / });
      await saved.waitFor();
      // Focus moves to the notice, so a screen reader reads it out.
      await expectFocused(saved);

      const stored = await mappings();
      expect(stored.is_default).toBe(false);
      expect(stored.eid_prefixes[3]!.description).toBe(description);
      expect(stored.models[0]!.latency_ms).toBe(1111);
      expect(await page.getByText('No unsaved changes').count()).toBe(2);
      await expectNoSeriousA11yViolations(page, 'mappings (narrow)');
      await saveScreenshot(page, 'mappings-narrow');

      // The token stays in the tab's session storage: a reload lands on the same page, signed in.
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Mappings' }).waitFor();
      const reloaded = page.getByRole('group', { name: 'EID prefix 4: 10.2.0.0/16' });
      expect(await reloaded.getByLabel('Description').inputValue()).toBe(description);
      expect(
        await page
          .getByRole('group', { name: 'Model 1: gpt-4' })
          .getByLabel('Latency (ms)')
          .inputValue(),
      ).toBe('1111');
      expect(await page.getByText('never: this tenant uses the built-in default').count()).toBe(0);
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
