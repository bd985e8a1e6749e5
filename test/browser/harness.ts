import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { describe, expect } from 'vitest';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { type DevProcess, startDev, stopLeftoverDevs } from '../helpers/dev-process.js';

/**
 * Browser tests drive Debian's Chromium with playwright-core against the real
 * local stack, started as `npm start` starts it (`wirefleet dev` as a child
 * process, its local agent, a data dir in os.tmpdir(), free ports).
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-output/console');

if (!chromiumAvailable) {
  console.warn(
    `browser tests skipped: ${CHROMIUM_PATH} is absent (apt-get install -y chromium; test/setup/system-deps.sh installs it as root)`,
  );
}

/** `describe`, skipped (with the warning above) when there is no Chromium to drive. */
export const describeInBrowser = describe.skipIf(!chromiumAvailable);

/**
 * As root with the network closed: without the background-networking flags
 * Chromium keeps trying to reach the internet. Playwright adds
 * `--user-data-dir=<fresh temp dir>` itself on every launch (and refuses it in args).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleStack {
  /** The console: `http://127.0.0.1:<port>/`. */
  url: string;
  /** `http://127.0.0.1:<port>/api/v1`. */
  apiUrl: string;
  /** The default tenant's API token, as the banner printed it. */
  token: string;
  /** The local agent's id (`local-agent`). */
  agentId: string;
  dataDir: string;
  dev: DevProcess;
  /** fetch() against the API with the stack's token (unless another is given). */
  api(pathname: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  stop(): Promise<void>;
}

export interface ConsoleStackOptions {
  /** The local agent: `replay` (default; the same generated capture as root or not), `loopback`, or `off`. */
  localAgent?: 'replay' | 'loopback' | 'off';
  env?: Record<string, string>;
}

/** `wirefleet dev` on free ports in a temp data dir; resolves once its banner is out. */
export async function startConsoleStack(options: ConsoleStackOptions = {}): Promise<ConsoleStack> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-console-'));
  const agentMode = options.localAgent ?? 'replay';
  let dev: DevProcess;
  try {
    dev = await startDev(
      {
        WIREFLEET_DATA_DIR: dataDir,
        PORT: '0',
        DYNAMODB_PORT: '0',
        S3_PORT: '0',
        MQTT_PORT: '0',
        AGENT_CONTROL_PORT: '0',
        WIREFLEET_API_TOKEN: '',
        WIREFLEET_DRAIN_SECONDS: '3',
        WIREFLEET_LOCAL_AGENT: agentMode === 'loopback' ? 'on' : agentMode,
        LOG_LEVEL: 'warn',
        ...options.env,
      },
      120_000,
    );
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const banner = dev.stderr();
  const url = /Console\s+(http:\/\/\S+\/)\s/.exec(banner)?.[1];
  // A console that did not build would leave an older one in place: never test that.
  if (!url || /Console .*(an older build|unavailable)/.test(banner)) {
    dev.kill('SIGKILL');
    throw new Error(`no console URL in the banner:\n${banner}`);
  }
  const token = dev.token() ?? (await readFile(path.join(dataDir, 'api-token'), 'utf8')).trim();
  const agentId = /Agent\s+([a-z0-9][\w.-]*)\s+\(/i.exec(banner)?.[1] ?? '';
  const apiUrl = `${dev.apiUrl()}/api/v1`;
  let stopped = false;
  return {
    url,
    apiUrl,
    token,
    agentId,
    dataDir,
    dev,
    api(pathname, init = {}) {
      const { token: given = token, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('Authorization', `Bearer ${given}`);
      if (json !== undefined) headers.set('Content-Type', 'application/json');
      return fetch(`${apiUrl}${pathname}`, {
        ...rest,
        headers,
        redirect: 'manual',
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const timer = setTimeout(() => dev.kill('SIGKILL'), 30_000);
      dev.kill('SIGTERM');
      await dev.exited;
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Stops any stack a failed test left running (call from afterAll after stack.stop()). */
export const stopLeftoverStacks = stopLeftoverDevs;

/** Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
}

export const DESKTOP = { width: 1280, height: 800 } as const;
export const NARROW = { width: 390, height: 844 } as const;

/** A collector of browser console errors and uncaught page errors. */
export interface ConsoleErrors {
  readonly messages: string[];
  /** Errors matching this are expected (e.g. the 401 a bad-token test provokes). */
  allow(pattern: RegExp): void;
  /** Throws, listing them, if any unexpected error was logged. */
  assertNone(): void;
}

export function collectConsoleErrors(page: Page): ConsoleErrors {
  const messages: string[] = [];
  const allowed: RegExp[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const where = message.location();
    messages.push(`${message.text()}${where.url ? ` (${where.url}:${where.lineNumber})` : ''}`);
  });
  page.on('pageerror', (error) => messages.push(`uncaught: ${error.stack ?? error.message}`));
  return {
    messages,
    allow: (pattern) => allowed.push(pattern),
    assertNone() {
      const unexpected = messages.filter((m) => !allowed.some((p) => p.test(m)));
      if (unexpected.length > 0) {
        throw new Error(`browser console errors:\n  ${unexpected.join('\n  ')}`);
      }
    },
  };
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  errors: ConsoleErrors;
  close(): Promise<void>;
}

/** A fresh context (own session storage, downloads accepted) and page, errors collected. */
export async function openPage(
  browser: Browser,
  viewport: { width: number; height: number } = DESKTOP,
): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const errors = collectConsoleErrors(page);
  return { context, page, errors, close: () => context.close() };
}

/** Signs in through the form and waits for the Packets page. */
export async function signIn(
  page: Page,
  stack: Pick<ConsoleStack, 'url' | 'token'>,
): Promise<void> {
  await page.goto(stack.url);
  await page.getByLabel('API token').fill(stack.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Goes to a hash route of the signed-in console and waits for its <h1>. */
export async function goTo(page: Page, hashPath: string, heading: string | RegExp): Promise<void> {
  await page.evaluate((hash) => {
    (globalThis as any).location.hash = hash;
  }, hashPath);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/**
 * Waits until `locator` has the focus. The console moves focus in an effect, which runs after
 * the render that made the element appear (and so may run after a waitFor on it returns).
 */
export async function expectFocused(locator: Locator): Promise<void> {
  await expect
    .poll(() => locator.evaluate((el) => el === el.ownerDocument.activeElement))
    .toBe(true);
}

let axeSource: string | undefined;

export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (from node_modules) on the page as it is now and fails on any
 * serious or critical violation. Injected through the DevTools protocol, so
 * the console's CSP (no inline scripts) stays on.
 */
export async function expectNoSeriousA11yViolations(
  page: Page,
  name: string,
): Promise<A11yViolation[]> {
  axeSource ??= await readFile(path.join(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // Runs in the page (the test tsconfig has no DOM types).
    const inPage = globalThis as any;
    const result = await inPage.axe.run(inPage.document, { resultTypes: ['violations'] });
    return (result.violations as any[]).map((v) => ({
      id: String(v.id),
      impact: (v.impact as string | null) ?? null,
      help: String(v.help),
      nodes: (v.nodes as any[]).slice(0, 5).map((n) => String(n.html).slice(0, 200)),
    }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (serious.length > 0) {
    throw new Error(
      `axe-core: ${serious.length} serious/critical violation(s) on ${name}:\n${serious
        .map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`)
        .join('\n')}`,
    );
  }
  return violations;
}

/** A full-page PNG in test-output/console/<name>.png (gitignored); returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  // From the top: a sticky header would otherwise be drawn where the page was scrolled to.
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
