// Headless Debian Chromium driven by playwright-core (never a downloaded browser).
// Every page records console errors and page errors so tests can assert there were none.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

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
