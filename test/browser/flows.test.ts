import type { Browser, Page } from 'playwright-core';
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

interface ApiFlow {
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  protocol: number;
  packets: number;
  agent_id: string;
}

/** The row name the page gives a flow (its rowLabel), from the API's record. */
const rowName = (f: ApiFlow) =>
  `Flow ${f.src_ip}:${f.src_port} to ${f.dst_ip}:${f.dst_port}: show details`;

async function rowNames(page: Page, table: string): Promise<string[]> {
  const rows = page.getByRole('table', { name: table }).locator('tbody tr');
  return rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('aria-label') ?? ''));
}

describeInBrowser('Flows page (real Chromium, real local stack and its agent)', () => {
  let stack: ConsoleStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startConsoleStack();
    browser = await launchBrowser();
    // The local agent replays its generated capture (200 flows) and publishes them: wait for them.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const response = await stack.api('/flows?sort_by=time&limit=1000');
      const flows = (await response.json()) as ApiFlow[];
      if (flows.length >= 200) break;
      if (Date.now() > deadline) throw new Error(`only ${flows.length} flows after 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopLeftoverStacks();
  });

  it("ranks the local agent's flows by bytes as the API does, with top talkers", async () => {
    const ranking = (await (await stack.api('/flows?sort_by=bytes&limit=100')).json()) as ApiFlow[];
    expect(ranking).toHaveLength(100);
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, '#/flows', 'Flows');
      const table = page.getByRole('table', { name: 'Top flows by bytes' });
      await table.locator('tbody tr').nth(99).waitFor();
      expect(await rowNames(page, 'Top flows by bytes')).toEqual(ranking.map(rowName));
      await page.getByRole('heading', { name: 'Top flows by bytes (top 100)' }).waitFor();
      // The agent column names the local agent and links to it.
      const agentLink = table
        .locator('tbody tr')
        .first()
        .getByRole('link', { name: stack.agentId });
      expect(await agentLink.getAttribute('href')).toBe(`#/agents/${stack.agentId}`);
      // A ranking says it is one, and is not paged.
      await page.getByText(/A ranking is a top 100, not paged/).waitFor();
      expect(await page.getByRole('button', { name: 'Load older records' }).count()).toBe(0);
      // Top talkers: the chart names its largest host, the busiest of the demo's servers.
      const chart = page.getByRole('img', { name: /^Top talkers by bytes, host/ });
      const chartName = (await chart.getAttribute('aria-labelledby'))!;
      const chartTitle = await page.locator(`[id="${chartName}"]`).textContent();
      expect(chartTitle).toMatch(/: 10\.2\.0\.\d+ [\d.]+ KiB/);
      await page.getByRole('term').filter({ hasText: 'Flow records' }).waitFor();

      // Keyboard: a focused row opens its details with Enter.
      await table.locator('tbody tr').first().focus();
      await page.keyboard.press('Enter');
      const detail = page.getByRole('heading', {
        level: 2,
        name: `Flow ${ranking[0]!.src_ip}:${ranking[0]!.src_port} → ${ranking[0]!.dst_ip}:${ranking[0]!.dst_port}`,
      });
      await detail.waitFor();
      await expectFocused(detail);

      await expectNoSeriousA11yViolations(page, 'flows');
      await saveScreenshot(page, 'flows-desktop');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('pages through every record newest first with next_token', async () => {
    const first = await stack.api('/flows?sort_by=time&limit=25');
    const token = first.headers.get('X-Wirefleet-Next-Token');
    expect(token).toBeTruthy();
    const second = await stack.api(
      `/flows?sort_by=time&limit=25&next_token=${encodeURIComponent(token!)}`,
    );
    const expected = [
      ...((await first.json()) as ApiFlow[]),
      ...((await second.json()) as ApiFlow[]),
    ].map(rowName);

    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, '#/flows', 'Flows');
      await page.getByLabel('Show', { exact: true }).selectOption('time');
      await page.getByLabel('Page size').selectOption('25');
      await page.waitForFunction(() => {
        const hash = (globalThis as any).location.hash as string;
        return hash.includes('sort=time') && hash.includes('limit=25');
      });
      const tableName = 'Flow records, newest first';
      const rows = page.getByRole('table', { name: tableName }).locator('tbody tr');
      await rows.nth(24).waitFor();
      expect(await rows.count()).toBe(25);
      await page.getByRole('button', { name: 'Load older records' }).click();
      await rows.nth(49).waitFor();
      expect(await rowNames(page, tableName)).toEqual(expected);
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it('filters by minimum packets, says when nothing matches, and clears the filters', async () => {
    const all = (await (await stack.api('/flows?sort_by=time&limit=100')).json()) as ApiFlow[];
    const busy = (await (
      await stack.api('/flows?sort_by=time&limit=100&min_packets=3')
    ).json()) as ApiFlow[];
    // The filter matters here: the unfiltered page holds 2-packet (DNS) flows.
    expect(all.some((f) => f.packets < 3)).toBe(true);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((f) => f.packets >= 3)).toBe(true);

    const { page, errors, close } = await openPage(browser, NARROW);
    try {
      await signIn(page, stack);
      await goTo(page, '#/flows?sort=time', 'Flows');
      const tableName = 'Flow records, newest first';
      await page
        .getByRole('table', { name: tableName })
        .getByRole('row', { name: rowName(all.at(-1)!) })
        .waitFor();
      await page.getByLabel('Min. packets').fill('3');
      await page.waitForFunction(() =>
        ((globalThis as any).location.hash as string).includes('min=3'),
      );
      // The page shows what the API lists for the same filter (its last row is not on the unfiltered page).
      const expected = busy.map(rowName);
      await page
        .getByRole('table', { name: tableName })
        .getByRole('row', { name: expected.at(-1)! })
        .waitFor();
      expect(await rowNames(page, tableName)).toEqual(expected);
      await expectNoSeriousA11yViolations(page, 'flows (narrow)');
      await saveScreenshot(page, 'flows-narrow');

      await page.getByLabel('Min. packets').fill('100000');
      await page.getByText('No flows match these filters').waitFor();
      await page.getByRole('button', { name: 'Clear filters' }).first().click();
      await page.getByRole('table', { name: 'Top flows by bytes' }).waitFor();
      expect(await page.getByLabel('Min. packets').inputValue()).toBe('');
      errors.assertNone();
    } finally {
      await close();
    }
  });

  it("shows the API's error for an agent the tenant does not have", async () => {
    const { page, errors, close } = await openPage(browser, DESKTOP);
    errors.allow(/status of 404/);
    try {
      await signIn(page, stack);
      await goTo(page, '#/flows?agent=no-such-agent', 'Flows');
      const alert = page.getByRole('alert').filter({ hasText: 'Could not load flows' });
      await alert.waitFor();
      expect(await alert.textContent()).toContain('agent_not_found');
      expect(await alert.textContent()).toContain('no agent "no-such-agent"');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});
