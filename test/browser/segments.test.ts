import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalManifestBytes,
  signedManifestSchema,
} from '../../protocol/evidence/window-manifest.js';
import {
  EvidenceTestAgent,
  putSegment,
  segmentRequest,
  type TestSegment,
} from '../helpers/evidence-agent.js';
import {
  type ConsoleStack,
  chromiumAvailable,
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

/** An agent registered with a password that never connects, so it has recorded nothing. */
const AGENT = 'evidence-edge-1';
/** An agent that uploads segments the way the agent's uploader does (MQTT + presigned PUT). */
const RECORDER = 'evidence-edge-2';
/** One more than the panel's first page (SEGMENTS_PAGE = 50), so paging is exercised. */
const RECORDED = 51;

/** Records segments through the cloud's real upload path: request, PUT to S3, confirm. */
async function recordSegments(
  stack: ConsoleStack,
  agentId: string,
  count: number,
): Promise<TestSegment[]> {
  const registered = await stack.api('/agents', { method: 'POST', json: { agent_id: agentId } });
  expect(registered.status).toBe(201);
  const { mqtt } = (await registered.json()) as { mqtt: { url: string; password: string } };
  const agent = await EvidenceTestAgent.connect(mqtt.url, agentId, mqtt.password);
  const uploaded: TestSegment[] = [];
  try {
    for (let seq = 0; seq < count; seq++) {
      const seg = segmentRequest(randomBytes(1000 + seq), { seq });
      const answer = await agent.send(seg.request);
      expect((await putSegment(answer, seg.bytes)).status).toBe(200);
      const confirmed = await agent.send({
        type: 'upload_complete',
        segment_id: seg.request.segment_id,
      });
      expect(confirmed.type).toBe('upload_confirmed');
      uploaded.push(seg);
    }
  } finally {
    await agent.close();
  }
  return uploaded;
}

describeInBrowser('Evidence segments on the agent page (real Chromium, real local stack)', () => {
  let stack: ConsoleStack;
  let browser: Browser;
  let uploaded: TestSegment[] = [];

  beforeAll(async () => {
    stack = await startConsoleStack({ localAgent: 'off' });
    browser = await launchBrowser();
    const registered = await stack.api('/agents', { method: 'POST', json: { agent_id: AGENT } });
    expect(registered.status).toBe(201);
    uploaded = await recordSegments(stack, RECORDER, RECORDED);
  }, 120_000);
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

  it('lists recorded segments, pages them, downloads one and prepares the window of all of them', async () => {
    const { page, errors, close } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, stack);
      await goTo(page, `#/agents/${RECORDER}`, `Agent ${RECORDER}`);
      const panel = page.getByRole('region', { name: 'Evidence segments' });
      const table = panel.getByRole('table', { name: `Evidence segments of ${RECORDER}` });
      const rows = table.locator('tbody tr');
      await rows.first().waitFor();
      expect(await rows.count()).toBe(50);

      // Oldest first, as the API pages them: seq 0 is the first row.
      const first = uploaded[0] as TestSegment;
      const cells = await rows.first().locator('td').allTextContents();
      expect(cells.slice(0, 1)).toEqual(['0']);
      expect(cells[2]).toBe('10');
      expect(cells[4]).toBe('AES-256-GCM');
      expect(cells[5]).toBe(`${first.request.key_id.slice(0, 8)}…`);
      expect(cells[6]).toBe(`${first.request.sha256.slice(0, 12)}…`);
      await rows.first().getByTitle(first.request.sha256).waitFor();
      // Local time shown, UTC in the tooltip.
      const started = rows.first().locator('time').first();
      expect(await started.getAttribute('datetime')).toBe(
        new Date(first.request.started_at * 1000).toISOString(),
      );
      expect(await started.getAttribute('title')).toContain('UTC');

      await panel.getByRole('button', { name: 'Load more segments' }).click();
      await panel.getByText('All segments kept are shown').waitFor();
      expect(await rows.count()).toBe(RECORDED);
      expect(await rows.last().locator('td').first().textContent()).toBe(String(RECORDED - 1));

      // The per-segment download is the encrypted object as uploaded, under the API's name.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        panel.getByRole('button', { name: 'Download segment 0', exact: true }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`segment-${first.request.segment_id}.wfe`);
      const saved = await download.path();
      expect(Buffer.compare(await readFile(saved), first.bytes)).toBe(0);

      // The window form starts at the listed range, and the window of all of them is assembled
      // (s3rver with the local stack's UploadPartCopy).
      const from = await panel.getByLabel('Window from').inputValue();
      const last = uploaded[RECORDED - 1] as TestSegment;
      const [sinceMs, untilMs] = await page.evaluate(
        ([a, b]) => [new Date(a as string).getTime(), new Date(b as string).getTime()],
        [from, await panel.getByLabel('Window to').inputValue()],
      );
      expect(sinceMs).toBeLessThanOrEqual(first.request.started_at * 1000);
      expect(sinceMs).toBeGreaterThan(first.request.started_at * 1000 - 60_000);
      expect(untilMs).toBeGreaterThanOrEqual(last.request.ended_at * 1000);
      expect(untilMs).toBeLessThan(last.request.ended_at * 1000 + 60_000);
      await panel.getByRole('button', { name: 'Prepare window' }).click();
      await panel.getByRole('link', { name: 'Download encrypted window' }).waitFor();
      await panel.getByText(`${RECORDED} segments`).waitFor();

      await expectNoSeriousA11yViolations(page, 'agent segments (recorded)');
      await saveScreenshot(page, 'agent-segments-recorded');
      errors.assertNone();
    } finally {
      await close();
    }
  });
});

describe.skipIf(!chromiumAvailable)(
  'Evidence window download on the agent page (real Chromium, local stack)',
  () => {
    const WINDOW_AGENT = 'evidence-edge-3';
    /** Records one segment more than a request assembles here, so its window is a job. */
    const JOB_AGENT = 'evidence-edge-4';
    let stack: ConsoleStack;
    let browser: Browser;
    let uploaded: TestSegment[] = [];
    let jobUploaded: TestSegment[] = [];

    beforeAll(async () => {
      // Windows of more than 3 segments are assembled as jobs (200 unless set).
      stack = await startConsoleStack({
        localAgent: 'off',
        env: { WINDOW_REQUEST_MAX_SEGMENTS: '3' },
      });
      browser = await launchBrowser();
      uploaded = await recordSegments(stack, WINDOW_AGENT, 3);
      jobUploaded = await recordSegments(stack, JOB_AGENT, 4);
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
      await stopLeftoverStacks();
    });

    it('offers the assembled window and saves its signed manifest as window-<id>.manifest.json', async () => {
      const { page, errors, close } = await openPage(browser, DESKTOP);
      try {
        await signIn(page, stack);
        await goTo(page, `#/agents/${WINDOW_AGENT}`, `Agent ${WINDOW_AGENT}`);
        const panel = page.getByRole('region', { name: 'Evidence segments' });
        await panel.getByRole('table').locator('tbody tr').nth(2).waitFor();
        await panel.getByRole('button', { name: 'Prepare window' }).click();
        const link = panel.getByRole('link', { name: 'Download encrypted window' });
        await link.waitFor();
        await panel.getByText('3 segments').waitFor();

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          panel.getByRole('button', { name: 'Save manifest' }).click(),
        ]);
        const saved = signedManifestSchema.parse(
          JSON.parse(await readFile(await download.path(), 'utf8')),
        );
        const { manifest, signature } = saved;
        expect(download.suggestedFilename()).toBe(`window-${manifest.window_id}.manifest.json`);
        expect(manifest.segments.map((e) => e.segment_id)).toEqual(
          uploaded.map((u) => u.request.segment_id),
        );
        // Signed by the cloud's key, over exactly the manifest saved.
        const key = (await (await stack.api('/evidence/manifest-key')).json()) as {
          key_id: string;
        };
        expect(signature.key_id).toBe(key.key_id);
        const publicKey = createPublicKey({
          key: Buffer.from(signature.public_key, 'base64'),
          format: 'der',
          type: 'spki',
        });
        expect(
          verify(
            null,
            canonicalManifestBytes(manifest),
            publicKey,
            Buffer.from(signature.value, 'base64'),
          ),
        ).toBe(true);

        // The link is the window object: the segments back to back, as the manifest says.
        const href = await link.getAttribute('href');
        const object = Buffer.from(await (await fetch(href as string)).arrayBuffer());
        expect(Buffer.compare(object, Buffer.concat(uploaded.map((u) => u.bytes)))).toBe(0);
        expect(object.length).toBe(manifest.bytes);

        await expectNoSeriousA11yViolations(page, 'agent segments (window ready)');
        await saveScreenshot(page, 'agent-segments-window');
        errors.assertNone();
      } finally {
        await close();
      }
    });

    it('follows a window too large for one request while the cloud assembles it as a job, then offers both links', async () => {
      const { page, errors, close } = await openPage(browser, DESKTOP);
      try {
        const polled: string[] = [];
        page.on('request', (r) => {
          if (r.url().includes('/segments/windows/win_')) polled.push(r.url());
        });
        await signIn(page, stack);
        await goTo(page, `#/agents/${JOB_AGENT}`, `Agent ${JOB_AGENT}`);
        const panel = page.getByRole('region', { name: 'Evidence segments' });
        await panel.getByRole('table').locator('tbody tr').nth(3).waitFor();
        await panel.getByRole('button', { name: 'Prepare window' }).click();
        const link = panel.getByRole('link', { name: 'Download encrypted window' });
        await link.waitFor();
        await panel.getByText('4 segments').waitFor();
        expect(polled.length).toBeGreaterThanOrEqual(1);

        // The manifest comes from the cloud's copy, kept beside the window object.
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          panel.getByRole('link', { name: 'Save manifest' }).click(),
        ]);
        const { manifest, signature } = signedManifestSchema.parse(
          JSON.parse(await readFile(await download.path(), 'utf8')),
        );
        expect(download.suggestedFilename()).toBe(`window-${manifest.window_id}.manifest.json`);
        expect(manifest.segments.map((e) => e.segment_id)).toEqual(
          jobUploaded.map((u) => u.request.segment_id),
        );
        const key = (await (await stack.api('/evidence/manifest-key')).json()) as {
          key_id: string;
        };
        expect(signature.key_id).toBe(key.key_id);
        const object = Buffer.from(
          await (await fetch((await link.getAttribute('href')) as string)).arrayBuffer(),
        );
        expect(Buffer.compare(object, Buffer.concat(jobUploaded.map((u) => u.bytes)))).toBe(0);

        await expectNoSeriousA11yViolations(page, 'agent segments (window job done)');
        errors.assertNone();
      } finally {
        await close();
      }
    });

    it('lists on the Custody page who was handed which evidence, newest first', async () => {
      const { page, errors, close } = await openPage(browser, DESKTOP);
      try {
        await signIn(page, stack);
        await goTo(page, '#/custody', 'Custody');
        const rows = page
          .getByRole('table', { name: 'Evidence custody log, newest first' })
          .locator('tbody tr');
        await rows.first().waitFor();
        const texts = await rows.allTextContents();
        // The tests above: a window link, a window job started, and the job's window link.
        expect(texts.length).toBeGreaterThanOrEqual(3);
        expect(texts[0]).toContain('Window link');
        expect(texts.some((t) => t.includes('Window job started'))).toBe(true);
        const tokenId = createHash('sha256').update(stack.token).digest('hex').slice(0, 16);
        expect(texts.every((t) => t.includes(tokenId))).toBe(true);
        expect(texts.some((t) => t.includes(JOB_AGENT) && t.includes('(4 segments)'))).toBe(true);
        await page.getByText('No older entries (they are kept a year)').waitFor();
        await expectNoSeriousA11yViolations(page, 'custody');
        await saveScreenshot(page, 'custody');
        await page.setViewportSize(NARROW);
        await expectNoSeriousA11yViolations(page, 'custody (narrow)');
        await saveScreenshot(page, 'custody-narrow');
        errors.assertNone();
      } finally {
        await close();
      }
    });
  },
);
