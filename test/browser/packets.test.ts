import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Download, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { tshark, tsharkFields } from '../helpers/tshark.js';
import {
  type ConsolePage,
  type ConsoleStack,
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

/**
 * The Packets page in Debian's Chromium against the real local stack: a query
 * routed from the playground shows up in the live table, its packet opens
 * with layers, bytes and the ASCII picture, and single and bulk downloads are
 * saved under the API's file name and read back with tshark.
 */

const CODE = 'Write a Python function to sort a list of numbers';
const PRIVATE = 'Review this confidential contract for our patient records';
/** Above one page of the table (50), so "load older" has something to load. */
const SEEDED_CODE = 56;
const SEEDED_PRIVATE = 4;

let stack: ConsoleStack;
let browser: Browser;
let tab: ConsolePage;
let page: Page;
let downloads: string;

async function routeViaApi(query: string): Promise<Record<string, any>> {
  const res = await stack.api('/route', {
    method: 'POST',
    json: { query, source_eid: '10.1.0.9' },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

/** Clicks, waits for the browser's download and the API answer naming the file. */
async function downloadVia(
  click: () => Promise<void>,
  apiPath: RegExp,
): Promise<{ download: Download; file: string; api: Record<string, any> }> {
  const answer = page.waitForResponse(
    (res) => apiPath.test(new URL(res.url()).pathname) && res.status() === 200,
  );
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 60_000 }),
    click(),
  ]);
  const api = (await (await answer).json()) as Record<string, any>;
  const file = path.join(downloads, download.suggestedFilename());
  await download.saveAs(file);
  return { download, file, api };
}

const rowFor = (id: string) => page.getByRole('row', { name: new RegExp(id) });

beforeAll(async () => {
  downloads = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-dl-'));
  stack = await startConsoleStack({ localAgent: 'off' });
  for (let i = 0; i < SEEDED_CODE; i++) await routeViaApi(`${CODE} (${i})`);
  for (let i = 0; i < SEEDED_PRIVATE; i++) await routeViaApi(`${PRIVATE} (${i})`);
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await signIn(page, stack);
});
afterEach(() => tab?.errors.assertNone());
afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await stack?.stop();
  await stopLeftoverStacks();
  await rm(downloads, { recursive: true, force: true });
});

describeInBrowser('Packets page (real Chromium, real local stack)', () => {
  it('shows the stat cards and charts from /packets/stats', async () => {
    const total = String(SEEDED_CODE + SEEDED_PRIVATE);
    const cards = page.getByRole('definition');
    await page.getByText('Total packets').waitFor();
    await expect.poll(async () => cards.first().textContent()).toBe(total);
    await page.getByRole('img', { name: /Packets by model/ }).waitFor();
    await page
      .getByRole('img', { name: /Packets by workload: code_generation 56, local_private 4/ })
      .waitFor();
  });

  it('shows a query routed from the playground in the table within one refresh', async () => {
    // The Packets page stays open (live) in this tab; the playground runs in a second one.
    await goTo(page, '/packets', 'Packets');
    await page.getByRole('table', { name: 'Recent LISP packets' }).waitFor();
    const recentLoads: number[] = [];
    page.on('request', (req) => {
      if (req.url().includes('/api/v1/packets/recent')) recentLoads.push(Date.now());
    });
    const other = await openPage(browser);
    try {
      await signIn(other.page, stack);
      await goTo(other.page, '/route', 'Route');
      await other.page
        .getByRole('textbox', { name: 'Query' })
        .fill('Write a Rust function that parses a LISP header');
      await other.page.getByLabel('Source EID').fill('10.1.0.77');
      await other.page.getByLabel('Priority').selectOption('high');
      await other.page.getByRole('button', { name: 'Route query' }).click();
      const link = other.page.getByRole('region', { name: 'Decision' }).getByRole('link').first();
      await link.waitFor();
      const id = (await link.textContent())!.trim();
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      const loadsBefore = recentLoads.length;
      await rowFor(id).waitFor({ timeout: 30_000 });
      // One refresh may have been in flight when the packet was stored; the next one has it.
      expect(recentLoads.length - loadsBefore).toBeLessThanOrEqual(2);
      const row = rowFor(id);
      await expect.poll(() => row.textContent()).toContain('10.1.0.77');
      other.errors.assertNone();
    } finally {
      await other.close();
    }
  });

  it('opens a packet from its row by keyboard: layers, hex and the ASCII visualization', async () => {
    await goTo(page, '/packets', 'Packets');
    const first = page.getByRole('row', { name: /^Open packet/ }).first();
    const name = (await first.getAttribute('aria-label'))!;
    const id = name.replace('Open packet ', '');
    await first.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: `Packet ${id}` }).waitFor();
    expect(page.url()).toContain(`#/packets/${id}`);
    const picture = page.getByRole('region', { name: 'ASCII visualization of the packet' });
    await picture.waitFor();
    expect(await picture.textContent()).toContain(id);
    expect(await picture.textContent()).toMatch(/LISP/);
    await page.locator('summary', { hasText: 'LISP data header' }).waitFor();
    await page.locator('summary', { hasText: 'IPv4 (inner, EID)' }).waitFor();
    const hex = await page.getByRole('region', { name: /Hex dump, \d+ bytes/ }).textContent();
    expect(hex).toMatch(/^0000 {2}[0-9a-f]{2} /);
    await expectNoSeriousA11yViolations(page, 'packet detail');
    await saveScreenshot(page, 'packet-detail');
    await page.setViewportSize(NARROW);
    await saveScreenshot(page, 'packet-detail-narrow');
    await expectNoSeriousA11yViolations(page, 'packet detail (narrow)');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('downloads the single packet as PCAP under the API file name, and tshark reads it', async () => {
    const id = /#\/packets\/([0-9a-f]{16})/.exec(page.url())![1]!;
    const { download, file, api } = await downloadVia(
      () => page.getByRole('button', { name: 'Download PCAP', exact: true }).click(),
      /\/download\/pcap$/,
    );
    expect(api.filename).toBe(`lisp_packet_${id}.pcap`);
    expect(download.suggestedFilename()).toBe(api.filename);
    expect((await stat(file)).size).toBe(api.bytes);
    const rows = await tsharkFields(file, ['frame.protocols', 'lisp-data.iid']);
    expect(rows).toHaveLength(1);
    expect(rows[0]![0]).toContain('lisp-data');
    await page.getByText(`Saved ${api.filename}`).waitFor();
  });

  it('filters by workload, keeps the filter while paging through the whole history', async () => {
    await goTo(page, '/packets', 'Packets');
    await page.getByLabel('Workload', { exact: true }).selectOption('code_generation');
    await expect.poll(() => page.url()).toContain('workload=code_generation');
    const table = page.getByRole('table', { name: 'Recent LISP packets' });
    await page.getByRole('button', { name: 'Load 50 older packets' }).click();
    await page.getByText(/End of history: all \d+ matching packets shown/).waitFor();
    const workloads = await table.locator('tbody tr td:nth-child(4)').allTextContents();
    // The seeded 56 plus the playground's query (a Rust function: code as well).
    expect(workloads.length).toBe(SEEDED_CODE + 1);
    expect(new Set(workloads)).toEqual(new Set(['code_generation']));
    await expectNoSeriousA11yViolations(page, 'packets (filtered)');
  });

  it("offers the tenant's catalogue in the model filter, and filters by model", async () => {
    const catalogue = (await (await stack.api('/mappings')).json()) as {
      models: { name: string }[];
    };
    const model = page.getByLabel('Model', { exact: true });
    await expect
      .poll(async () => (await model.locator('option').allTextContents()).slice(1))
      .toEqual(catalogue.models.map((m) => m.name).sort());
    await model.selectOption('claude-3');
    await expect.poll(() => page.url()).toContain('model=claude-3');
    const table = page.getByRole('table', { name: 'Recent LISP packets' });
    await expect
      .poll(async () => new Set(await table.locator('tbody tr td:nth-child(3)').allTextContents()))
      .toEqual(new Set(['claude-3']));
    await model.selectOption('');
  });

  it('says so when nothing matches, and the filter survives a reload', async () => {
    await page.getByLabel('Workload', { exact: true }).selectOption('fast_response');
    await page.getByText('No packets match these filters').waitFor();
    await page.reload();
    await page.getByText('No packets match these filters').waitFor();
    expect(await page.getByLabel('Workload', { exact: true }).inputValue()).toBe('fast_response');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('table', { name: 'Recent LISP packets' }).waitFor();
  });

  it('pauses and resumes the 5 s refresh', async () => {
    const pause = page.getByRole('button', { name: 'Pause' });
    await pause.click();
    await page.getByRole('button', { name: 'Resume', pressed: true }).waitFor();
    await page.getByText(/^Paused/).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText(/^Every 5 s/).waitFor();
  });

  it('downloads a bulk pcap with the current filters, named by the API, read by tshark', async () => {
    await page.getByLabel('Workload', { exact: true }).selectOption('local_private');
    await page.getByRole('spinbutton', { name: 'Packets' }).fill('3');
    const { download, file, api } = await downloadVia(
      () => page.getByRole('button', { name: 'Download', exact: true }).click(),
      /\/packets\/download\/pcap$/,
    );
    expect(api.filename).toMatch(/^lisp_packets_\d{8}_\d{6}\.pcap$/);
    expect(download.suggestedFilename()).toBe(api.filename);
    expect(api.packets).toBe(3);
    const rows = await tsharkFields(file, ['frame.protocols', 'ip.dst']);
    expect(rows).toHaveLength(3);
    for (const [protocols] of rows) expect(protocols).toContain('lisp-data');
    // The private workload goes to local models only: inner destinations on 10.4.0.0/16.
    for (const [, dst] of rows) expect(dst!.split(',')[1]).toMatch(/^10\.4\./);
    await page.getByLabel('Workload', { exact: true }).selectOption('');
  });

  it('runs a large download as an export job (202, polled) and saves the pcapng', async () => {
    await page.getByRole('spinbutton', { name: 'Packets' }).fill('20000');
    await page.getByLabel('Format', { exact: true }).selectOption('pcapng');
    const started = page.waitForResponse(
      (res) => res.url().includes('/packets/download/pcap') && res.status() === 202,
    );
    const { download, file, api } = await downloadVia(
      () => page.getByRole('button', { name: 'Download', exact: true }).click(),
      /\/packets\/exports\/[^/]+$/,
    );
    expect((await (await started).json()).status_url).toContain('/api/v1/packets/exports/');
    expect(api.status).toBe('done');
    expect(download.suggestedFilename()).toBe(api.filename);
    expect(api.filename).toMatch(/\.pcapng$/);
    const out = await tshark(file, ['-T', 'fields', '-e', 'frame.protocols']);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(SEEDED_CODE + SEEDED_PRIVATE + 1);
    expect(lines.every((l) => l.includes('lisp-data'))).toBe(true);
  });

  it('refuses a count outside 1-100 000 beside the field', async () => {
    await page.getByRole('spinbutton', { name: 'Packets' }).fill('100001');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const field = page.getByRole('spinbutton', { name: 'Packets' });
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await field.getAttribute('aria-describedby'))!;
    const errorText = await page.locator(`[id="${describedBy.split(' ').at(-1)}"]`).textContent();
    expect(errorText).toBe('Between 1 and 100,000 packets.');
  });

  it('passes axe and is screenshot at 1280×800 and 390×844', async () => {
    await page.getByRole('spinbutton', { name: 'Packets' }).fill('100');
    await goTo(page, '/packets', 'Packets');
    await page.getByRole('table', { name: 'Recent LISP packets' }).waitFor();
    await expectNoSeriousA11yViolations(page, 'packets');
    await saveScreenshot(page, 'packets');
    await page.setViewportSize(NARROW);
    await expectNoSeriousA11yViolations(page, 'packets (narrow)');
    await saveScreenshot(page, 'packets-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
