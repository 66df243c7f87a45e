// Headless Debian Chromium driven by playwright-core (never a downloaded browser).
// Every page records console errors and page errors so tests can assert there were none.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Config } from '../../server/config.ts';
import { checkInvariants } from './invariants.ts';
import { startServer, type TestServer } from './server.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium keeps trying hosts this machine
    // cannot reach; none of them matter to the pages.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export interface WatchedPage { page: Page; context: BrowserContext; errors: string[] }

/** A page in its own context (own storage), at phone or desktop size, watching for errors. */
export async function openPage(browser: Browser, url: string, size: 'phone' | 'desktop' = 'desktop', opts: { geolocation?: { latitude: number; longitude: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: size === 'phone' ? { width: 390, height: 844 } : { width: 1440, height: 900 },
    ...(opts.geolocation ? { geolocation: opts.geolocation, permissions: ['geolocation'] } : {}),
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => {
    // A socket closed on purpose (offline test) is not a page fault.
    if (!req.url().includes('/socket.io/')) errors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return { page, context, errors };
}

export interface PageCtx { server: TestServer; browser: Browser; pages: WatchedPage[] }

/**
 * A suite with its own server and browser. After each test: no console error on any
 * page it opened (tests push them to `ctx.pages`), pages closed, invariants checked.
 */
export function pageSuite(name: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Test<PageCtx> {
  const test = suite<PageCtx>(name);
  test.before(async (ctx) => {
    ctx.server = await startServer(overrides);
    ctx.browser = await launchBrowser();
    ctx.pages = [];
  });
  test.after(async (ctx) => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });
  test.after.each(async (ctx) => {
    for (const p of ctx.pages) assert.equal(p.errors, [], `console errors on ${p.page.url()}`);
    for (const p of ctx.pages.splice(0)) await p.context.close();
    await checkInvariants(ctx.server);
  });
  return test;
}
