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

/**
 * Records the CSP violations of every page `context` opens; the returned function reads
 * a page's. The listener runs before the page's own scripts, outside its CSP (browser
 * code is passed as text: this project compiles without the DOM types).
 */
export async function recordCspViolations(context: BrowserContext): Promise<(page: Page) => Promise<string[]>> {
  await context.addInitScript({
    content: `window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  return (page) => page.evaluate("window.__violations ?? ['listener missing']") as Promise<string[]>;
}

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

export interface OriginPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors. */
  errors: string[];
  /** Requests that left `origin` (data: URLs aside). */
  elsewhere: string[];
  violations(): Promise<string[]>;
}

/**
 * A fresh page, not navigated yet, that records errors, CSP violations and any request
 * leaving `origin`: for pages that must render from the server alone under its CSP.
 */
export async function originPage(browser: Browser, origin: string): Promise<OriginPage> {
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  const violations = await recordCspViolations(context);
  const page = await context.newPage();
  const errors: string[] = [];
  const elsewhere: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (req) => { if (!req.url().startsWith(origin) && !req.url().startsWith('data:')) elsewhere.push(req.url()); });
  return { context, page, errors, elsewhere, violations: () => violations(page) };
}

export interface PageCtx { server: TestServer; browser: Browser; pages: WatchedPage[] }

/** A page at `path` of the suite's server signed in with `token` (and placed at `at`), watched by the suite. */
export async function openAs(ctx: PageCtx, path: string, token: string, size: 'phone' | 'desktop', at?: { lat: number; lng: number }): Promise<Page> {
  const watched = await openPage(ctx.browser, `${ctx.server.url}${path}#token=${token}`, size,
    at ? { geolocation: { latitude: at.lat, longitude: at.lng } } : {});
  ctx.pages.push(watched);
  return watched.page;
}

/** The element a page marks `data-testid="…"`. */
export const testid = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

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
