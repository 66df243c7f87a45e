// The operators' queue view (bull-board at /admin/queues): dispatchers only, by the
// cookie `POST /v1/admin/session` sets or by a bearer header; read-only (every write
// refused, nothing changed); and its page runs in Chromium under its own CSP, loading
// nothing from another origin.
import { Queue } from 'bullmq';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ADMIN_COOKIE } from '../server/http/auth.hook.ts';
import { redisKeys } from '../server/redis.ts';
import { launchBrowser, openPage, originPage } from './helpers/browser.ts';
import { http, type HttpAnswer } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { dispatcherToken, registerHero } from './helpers/world.ts';

const test = suite<{ server: TestServer }>('admin queues');

test.before(async (ctx) => { ctx.server = await startServer(); });
test.after(async (ctx) => { await ctx.server?.stop(); });
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

const cookieOf = (token: string) => ({ cookie: `${ADMIN_COOKIE}=${token}` });

function assertProblem(res: HttpAnswer, status: number, what: string): void {
  assert.is(res.status, status, `${what}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.is(res.body.status, status, what);
}

test('no credentials is 401; a hero or a civilian is 403, by header or by cookie', async ({ server }) => {
  const hero = await registerHero(server);
  const heroToken = await server.token('hero', hero.id);
  const civ = await server.token('civilian', uid('civ-'));
  for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/queue/dispatch']) {
    const none = await http(server, 'GET', path);
    assertProblem(none, 401, `${path} without credentials`);
    assert.is(none.headers.get('www-authenticate'), 'Bearer');
    assertProblem(await http(server, 'GET', path, { headers: cookieOf('garbage') }), 401, `${path} with a garbage cookie`);
    for (const [who, token] of [['hero', heroToken], ['civilian', civ]] as const) {
      assertProblem(await http(server, 'GET', path, { token }), 403, `${path} as a ${who} (bearer)`);
      assertProblem(await http(server, 'GET', path, { headers: cookieOf(token) }), 403, `${path} as a ${who} (cookie)`);
    }
  }
  // Only a dispatcher gets the cookie at all; an expired token is refused in it.
  assertProblem(await http(server, 'POST', '/v1/admin/session', { token: civ }), 403, 'a civilian asks for the cookie');
  assertProblem(await http(server, 'POST', '/v1/admin/session'), 401, 'nobody asks for the cookie');
  const expired = await server.token('dispatcher', uid('d-'), -10);
  assertProblem(await http(server, 'GET', '/admin/queues/api/queues', { headers: cookieOf(expired) }), 401, 'an expired dispatcher token in the cookie');
});

test('a dispatcher gets an HttpOnly, SameSite=Strict cookie for /admin and sees every queue through bull-board\'s API', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const session = await http(server, 'POST', '/v1/admin/session', { token: disp });
  assert.is(session.status, 204);
  const cookie = session.headers.get('set-cookie') ?? '';
  assert.ok(cookie.startsWith(`${ADMIN_COOKIE}=${disp};`), cookie);
  for (const attr of ['Path=/admin', 'HttpOnly', 'SameSite=Strict']) assert.ok(cookie.includes(attr), `${attr} in ${cookie}`);
  assert.not.ok(cookie.includes('Secure'), 'plain http: not Secure');
  const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
  assert.ok(maxAge > 3600 && maxAge <= 12 * 3600, `expires with the token: ${maxAge}`);

  const page = await http(server, 'GET', '/admin/queues', { headers: cookieOf(disp) });
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.not.match(page.body, /fonts\.googleapis/, 'nothing from the internet');
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.is(page.headers.get('x-content-type-options'), 'nosniff');
  // A bearer header works too (scripts, curl).
  for (const auth of [cookieOf(disp), { authorization: `Bearer ${disp}` }]) {
    const api = await http(server, 'GET', '/admin/queues/api/queues', { headers: auth });
    assert.is(api.status, 200, JSON.stringify(api.body)?.slice(0, 300));
    const queues = api.body.queues as { name: string; readOnlyMode: boolean }[];
    assert.equal(queues.map((q) => q.name).sort(), ['dispatch', 'expiry', 'notify', 'retention', 'sweep'].sort(), JSON.stringify(queues.map((q) => q.name)));
    assert.ok(queues.every((q) => q.readOnlyMode), 'every queue is read-only');
  }
  // Only the API and pages carry the cookie's token: the pages' own CSP stays unchanged.
  assert.match((await http(server, 'GET', '/')).headers.get('content-security-policy') ?? '', /style-src 'self'(;|$)/);

  const out = await http(server, 'DELETE', '/v1/admin/session');
  assert.is(out.status, 204);
  assert.match(out.headers.get('set-cookie') ?? '', new RegExp(`^${ADMIN_COOKIE}=; Path=/admin; Max-Age=0`));
});

test('the view is read-only: retry, clean, pause and the rest are refused and change nothing', async ({ server }) => {
  const disp = await dispatcherToken(server);
  const dispatch = new Queue('dispatch', { connection: server.app.redis, prefix: redisKeys(server.prefix).bullPrefix });
  try {
    const writes: [string, string][] = [
      ['PUT', '/admin/queues/api/queues/dispatch/retry/failed'],
      ['PUT', '/admin/queues/api/queues/dispatch/clean/completed'],
      ['PUT', '/admin/queues/api/queues/dispatch/pause'],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['PUT', '/admin/queues/api/queues/dispatch/empty'],
      ['PUT', '/admin/queues/api/queues/dispatch/obliterate'],
      ['POST', '/admin/queues/api/queues/dispatch/add'],
      ['PUT', '/admin/queues/api/queues/dispatch/some-job/retry'],
      ['PUT', '/admin/queues/api/queues/dispatch/some-job/clean'],
    ];
    for (const [method, path] of writes) {
      for (const auth of [cookieOf(disp), { authorization: `Bearer ${disp}` }]) {
        const res = await http(server, method, path, { headers: auth, body: {} });
        assertProblem(res, 405, `${method} ${path}`);
        assert.is(res.headers.get('allow'), 'GET');
      }
      assertProblem(await http(server, method, path, { body: {} }), 401, `${method} ${path} without credentials`);
    }
    assert.is(await dispatch.isPaused(), false, 'the dispatch queue still runs');
  } finally {
    await dispatch.close();
  }
});

test('the queue page renders in Chromium after the dispatcher opens a session, under its CSP, loading nothing from elsewhere', async ({ server }) => {
  const disp = await dispatcherToken(server);
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { context, page, errors, elsewhere, violations } = await originPage(browser, server.url);
    // As the console would: the session from the page's own origin, then a plain navigation.
    await page.goto(`${server.url}/healthz`);
    const status = await page.evaluate(`fetch('/v1/admin/session', { method: 'POST', headers: { authorization: 'Bearer ${disp}' } }).then((r) => r.status)`);
    assert.is(status, 204);
    assert.equal((await context.cookies()).map((c) => [c.name, c.path, c.httpOnly, c.sameSite]), [[ADMIN_COOKIE, '/admin', true, 'Strict']]);
    await page.goto(`${server.url}/admin/queues`, { waitUntil: 'domcontentloaded' });
    for (const name of ['dispatch', 'expiry', 'notify', 'retention', 'sweep']) await page.getByText(name, { exact: true }).first().waitFor();
    assert.equal(await violations(), [], 'CSP violations');
    assert.equal(elsewhere, [], 'requests to other origins');
    assert.equal(errors, [], 'console errors');
  } finally {
    await browser?.close();
  }
});

test('the dispatcher console links to the queue view, already signed in for it', async ({ server }) => {
  const disp = await dispatcherToken(server);
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page, context, errors } = await openPage(browser, `${server.url}/#token=${disp}`);
    const link = page.locator('[data-testid="queues-link"]');
    await link.waitFor({ state: 'visible' });
    const [view] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await view.waitForLoadState('domcontentloaded');
    for (const name of ['dispatch', 'expiry', 'notify', 'retention', 'sweep']) await view.getByText(name, { exact: true }).first().waitFor();
    assert.equal(errors, [], 'console errors on the console');
  } finally {
    await browser?.close();
  }
});

test.run();
