// The pages under their Content-Security-Policy in headless Chromium: they run with no
// violation and no console error (map tiles from MAP_TILES_URL included), the policy is
// really enforced (an injected inline script does not run; another origin cannot frame
// a page), and the dispatcher console takes `#token=` out of the address bar on load.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { launchBrowser, recordCspViolations } from './helpers/browser.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { registerHero } from './helpers/world.ts';

// A 1×1 transparent PNG: every tile.
const TILE = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

interface Watched { page: Page; context: BrowserContext; errors: string[]; violations: () => Promise<string[]> }
interface Ctx { server: TestServer; browser: Browser; tiles: Server; tileOrigin: string; tileHits: number; pages: Watched[] }
const test = suite<Ctx>('pages under their CSP in Chromium');

test.before(async (ctx) => {
  ctx.tileHits = 0;
  ctx.pages = [];
  // Tiles, and a page that tries to frame the console, from another origin.
  ctx.tiles = createServer((req, res) => {
    if (req.url?.startsWith('/frame.html')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>framer</title><iframe id="f" src="${new URL(req.url, 'http://x').searchParams.get('src') ?? ''}"></iframe>`);
      return;
    }
    ctx.tileHits += 1;
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
    res.end(TILE);
  });
  await new Promise<void>((resolve) => ctx.tiles.listen(0, '127.0.0.1', resolve));
  ctx.tileOrigin = `http://127.0.0.1:${(ctx.tiles.address() as AddressInfo).port}`;
  ctx.server = await startServer({ MAP_TILES_URL: `${ctx.tileOrigin}/{z}/{x}/{y}.png` });
  ctx.browser = await launchBrowser();
});

test.after(async (ctx) => {
  await ctx.browser?.close();
  await ctx.server?.stop();
  await new Promise<void>((resolve) => { ctx.tiles.closeAllConnections(); ctx.tiles.close(() => resolve()); });
});

test.after.each(async (ctx) => {
  for (const p of ctx.pages.splice(0)) await p.context.close();
  await checkInvariants(ctx.server);
});

/** A page in its own context recording console errors, page errors and CSP violations. */
async function open(ctx: Ctx, url: string): Promise<Watched> {
  const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  const violations = await recordCspViolations(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  const watched = {
    page, context, errors,
    violations: () => violations(page),
  };
  ctx.pages.push(watched);
  return watched;
}

async function assertClean(w: Watched, what: string): Promise<void> {
  assert.equal(await w.violations(), [], `${what}: CSP violations`);
  assert.equal(w.errors, [], `${what}: console errors`);
}

test('the dispatcher console takes #token= out of the address bar, stays signed in across a reload, and breaks no policy', async (ctx) => {
  const token = await ctx.server.token('dispatcher', uid('d-'));
  const w = await open(ctx, `${ctx.server.url}/#token=${token}`);
  const { page } = w;
  await page.locator('#console').waitFor({ state: 'visible' });
  await page.locator('[data-testid="connection"]').waitFor({ state: 'hidden' }); // the socket connected
  assert.not.match(page.url(), /token/, `address bar: ${page.url()}`);
  assert.not.match(await page.evaluate('location.href') as string, /token/);
  assert.is(new URL(page.url()).pathname, '/');
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.locator('[data-testid="connection"]').waitFor({ state: 'hidden' });
  assert.ok(await page.locator('#console').isVisible(), 'still signed in after a reload');
  assert.not.match(page.url(), /token/);
  await page.locator('.leaflet-tile-loaded').first().waitFor({ state: 'attached' });
  await assertClean(w, 'console');
});

test('the three pages run under the CSP with tiles from MAP_TILES_URL, with no violation or console error', async (ctx) => {
  const hero = await registerHero(ctx.server, { name: 'Captain CSP' });
  const pages: [string, string][] = [
    ['/', await ctx.server.token('dispatcher', uid('d-'))],
    ['/report', await ctx.server.token('civilian', uid('c-'))],
    ['/hero', await ctx.server.token('hero', hero.id)],
  ];
  const hitsBefore = ctx.tileHits;
  for (const [path, token] of pages) {
    const w = await open(ctx, `${ctx.server.url}${path}#token=${token}`);
    await w.page.locator('[data-testid="connection"]').waitFor({ state: 'hidden' });
    await w.page.locator('.leaflet-tile-loaded').first().waitFor({ state: 'attached' });
    assert.not.match(w.page.url(), /token/, `${path}: token left in the address bar`);
    await assertClean(w, path);
  }
  assert.ok(ctx.tileHits > hitsBefore, 'tiles were fetched from the MAP_TILES_URL origin');
});

test('the policy is enforced: an injected inline script does not run and is reported', async (ctx) => {
  const w = await open(ctx, `${ctx.server.url}/report`);
  await w.page.locator('[data-testid="signin"], form').first().waitFor({ state: 'attached' });
  const ran = await w.page.evaluate(`(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.body.append(s);
    const img = document.createElement('img');
    img.src = 'https://elsewhere.example.invalid/x.png';
    document.body.append(img);
    await new Promise((r) => setTimeout(r, 100));
    return window.__inlineRan === true;
  })()`);
  assert.is(ran, false, 'an inline script ran despite the policy');
  const violations = await w.violations();
  assert.ok(violations.some((v) => v.startsWith('script-src')), JSON.stringify(violations));
  assert.ok(violations.some((v) => v.startsWith('img-src') && v.includes('elsewhere.example.invalid')), JSON.stringify(violations));
  w.errors.length = 0; // the refusals above are logged as console errors, on purpose
});

test('another origin cannot frame a page', async (ctx) => {
  const w = await open(ctx, `${ctx.tileOrigin}/frame.html?src=${encodeURIComponent(`${ctx.server.url}/report`)}`);
  const frame = await (await w.page.locator('#f').elementHandle())!.contentFrame();
  assert.ok(frame, 'the iframe exists');
  await w.page.waitForLoadState('load'); // the parent's load waits for its frames
  // Chromium replaces a refused frame with an error page: nothing of ours is in it.
  const inside = await frame!.evaluate(`document.querySelector('[data-testid="report-form"]') !== null`).catch(() => false);
  assert.is(inside, false, 'the report page rendered inside a foreign frame');
  assert.ok(w.errors.some((e) => /frame-ancestors/.test(e)), `the refusal names frame-ancestors: ${JSON.stringify(w.errors)}`);
  w.errors.length = 0;
});

test.run();
