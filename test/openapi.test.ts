// The OpenAPI document (GET /openapi.json) describes the server as it is:
//  (a) every route the server registers is in it, but for the prefixes deliberately left
//      out (server/http/openapi.ts UNDOCUMENTED: pages, assets, the docs UI, the queue
//      view), each with its reason; every operation states its roles, its refusals and
//      an example;
//  (b) every answer matches what its route documents. The mechanism: the server under
//      test starts with HTTP_RESPONSE_CHECK=1 (server/http/conformance.ts), which checks
//      every answer of a documented route against the zod schema the document is
//      generated from, for its status and content type, and records a mismatch or an
//      undocumented status. This suite drives every documented route, answers and
//      refusals alike, and asserts that the record is empty and that every operation
//      was seen answering 2xx. Production never sets the flag: no per-request check.
// And the docs UI at /docs renders in Chromium from the server alone, under its CSP.
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registeredRoutes } from '../server/http/route.table.ts';
import { responseMismatches, responsesObserved } from '../server/http/conformance.ts';
import { isUndocumented, UNDOCUMENTED } from '../server/http/openapi.ts';
import { launchBrowser, originPage } from './helpers/browser.ts';
import { http } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, dispatcherToken, registerHero, report } from './helpers/world.ts';

const METRICS_TOKEN = 'metrics-token-for-the-openapi-suite-0123';
const REPORTS_PER_MINUTE = 3;

interface Ctx { server: TestServer; doc: any }
const test = suite<Ctx>('openapi');

test.before(async (ctx) => {
  ctx.server = await startServer({
    METRICS_TOKEN, REPORTS_PER_MINUTE, EVENTS_PAGE_MAX: 2, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000, HTTP_RESPONSE_CHECK: '1',
  });
  const res = await http(ctx.server, 'GET', '/openapi.json');
  assert.is(res.status, 200);
  ctx.doc = res.body;
});
test.after(async (ctx) => { await ctx.server?.stop(); });
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const operations = (doc: any) => Object.entries(doc.paths as Record<string, any>)
  .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] })));
const deref = (doc: any, s: any) => (s?.$ref ? doc.components.schemas[s.$ref.split('/').at(-1)] : s);

test('every registered route is in the document, but for the prefixes left out on purpose', ({ server, doc }) => {
  assert.is(doc.openapi, '3.1.0');
  const routes = registeredRoutes(server.app.http);
  assert.ok(routes.length > 20, `routes collected: ${routes.length}`);
  const missing = routes.filter((r) => !isUndocumented(r.url) && !doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()]);
  assert.equal(missing.map((r) => `${r.method} ${r.url}`), [], 'registered but not documented');
  const leaked = routes.filter((r) => isUndocumented(r.url) && doc.paths[openapiPath(r.url)]);
  assert.equal(leaked.map((r) => `${r.method} ${r.url}`), [], 'left out on purpose, yet documented');
  // And the other way: nothing is documented that the server does not answer.
  const known = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openapiPath(r.url)}`));
  assert.equal(operations(doc).map((o) => `${o.method} ${o.path}`).filter((o) => !known.has(o)), [], 'documented but not registered');
  // Every exclusion says why, and each one is in use.
  for (const u of UNDOCUMENTED) {
    assert.ok(u.why.length > 10, `${u.exact ?? u.prefix}: a reason`);
    assert.ok(routes.some((r) => (u.exact !== undefined ? r.url === u.exact : r.url.startsWith(u.prefix!))), `${u.exact ?? u.prefix} excludes a registered route`);
  }
  for (const path of ['/healthz', '/readyz', '/metrics', '/v1/heroes', '/v1/heroes/{id}', '/v1/incidents', '/v1/incidents/{id}',
    '/v1/incidents/{id}/events', '/v1/incidents/{id}/cancel', '/v1/incidents/{id}/assign', '/v1/incidents/{id}/reassign', '/v1/admin/session']) {
    assert.ok(doc.paths[path], `${path} documented`);
  }
});

test('each operation states its roles, its refusals as problem documents, and an example', ({ doc }) => {
  assert.equal(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: doc.components.securitySchemes.bearer.description });
  const problem = doc.components.schemas.Problem;
  assert.equal(problem.required.sort(), ['code', 'detail', 'status', 'title', 'type']);
  for (const { path, method, op } of operations(doc)) {
    const what = `${method.toUpperCase()} ${path}`;
    const roles = op['x-roles'] as string[] | undefined;
    if (roles) {
      assert.equal(op.security, [{ bearer: [] }], `${what}: bearer security`);
      assert.match(op.description, new RegExp(`Roles:\\*\\* ${roles.join(', ')}`), `${what}: roles in the description`);
      for (const status of ['401', '403', '429']) assert.ok(op.responses[status], `${what}: documents ${status}`);
    }
    for (const [status, answer] of Object.entries(op.responses as Record<string, any>)) {
      if (Number(status) >= 400 && !(path === '/readyz' && status === '503')) {
        assert.equal(Object.keys(answer.content), ['application/problem+json'], `${what} ${status}: a problem document`);
        assert.is(answer.content['application/problem+json'].schema.$ref, '#/components/schemas/Problem', `${what} ${status}`);
        assert.ok(answer.description && answer.description !== 'Default Response', `${what} ${status}: says when`);
      }
    }
    if (op.parameters?.some((p: any) => p.in === 'path') || op.requestBody) assert.ok(op.responses['400'], `${what}: documents 400`);
    // An example of the answer (or, for an answer without a body, of the request).
    const ok = Object.entries(op.responses as Record<string, any>).find(([s]) => s.startsWith('2'))![1];
    const bodies = [...Object.values(ok.content ?? {}), ...Object.values(op.requestBody?.content ?? {})] as any[];
    const example = (c: any) => c.example !== undefined || c.examples !== undefined || deref(doc, c.schema)?.examples?.length > 0;
    if (bodies.length) assert.ok(bodies.some(example), `${what}: an example`);
  }
  assert.equal(doc.paths['/v1/incidents'].post['x-roles'], ['civilian']);
  assert.equal(doc.paths['/v1/incidents/{id}/assign'].post['x-roles'], ['dispatcher']);
  assert.ok(doc.paths['/v1/incidents'].post.responses['422'], 'a report documents 422 idempotency_mismatch');
  assert.ok(doc.paths['/v1/incidents/{id}/cancel'].post.responses['409'], 'a cancel documents 409');
  assert.ok(doc.paths['/v1/heroes'].post.responses['413'], 'a body documents 413');
  assert.equal(doc.paths['/metrics'].get.security, [{ metricsToken: [] }], 'with METRICS_TOKEN, /metrics names its scheme');
  assert.ok(doc.paths['/v1/incidents'].post.parameters.some((p: any) => p.in === 'header' && p.name === 'idempotency-key' && p.required));
});

test('every answer of every documented route matches its documented schema, refusals included', async ({ server, doc }) => {
  const disp = await dispatcherToken(server);
  const civ = await server.token('civilian', uid('civ-'));
  const other = await server.token('civilian', uid('civ-'));
  const hero = await registerHero(server, { skills: ['fire'] });
  const heroToken = await server.token('hero', hero.id);
  const center = area();
  const expect = async (status: number, method: string, path: string, opts: Parameters<typeof http>[3] = {}) => {
    const res = await http(server, method, path, opts);
    assert.is(res.status, status, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
    return res;
  };

  await expect(200, 'GET', '/healthz');
  await expect(200, 'GET', '/readyz');
  await expect(200, 'GET', '/metrics', { token: METRICS_TOKEN });
  await expect(401, 'GET', '/metrics');

  await expect(201, 'POST', '/v1/heroes', { token: disp, body: { name: 'Doc Hero', skills: ['fire'], mode: 'air' } });
  await expect(400, 'POST', '/v1/heroes', { token: disp, body: { name: '', skills: [], mode: 'boat' } });
  await expect(401, 'POST', '/v1/heroes', { body: { name: 'x', skills: [], mode: 'air' } });
  await expect(403, 'POST', '/v1/heroes', { token: civ, body: { name: 'x', skills: [], mode: 'air' } });
  await expect(413, 'POST', '/v1/heroes', { token: disp, raw: JSON.stringify({ name: 'x'.repeat(70_000), skills: [], mode: 'air' }) });
  await expect(200, 'GET', `/v1/heroes/${hero.id}`, { token: disp });
  await expect(200, 'GET', `/v1/heroes/${hero.id}`, { token: heroToken });
  await expect(403, 'GET', `/v1/heroes/${uid('h-')}`, { token: heroToken });
  await expect(404, 'GET', `/v1/heroes/${uid('h-')}`, { token: disp });
  await expect(400, 'GET', '/v1/heroes/%00', { token: disp });

  const key = uid('k-');
  const body = { kind: 'fire', severity: 'high', location: center, description: 'openapi suite' };
  const created = await expect(201, 'POST', '/v1/incidents', { token: civ, body, headers: { 'idempotency-key': key } });
  const id = created.body.id as string;
  await expect(200, 'POST', '/v1/incidents', { token: civ, body, headers: { 'idempotency-key': key } });
  await expect(422, 'POST', '/v1/incidents', { token: civ, body: { ...body, severity: 'low' }, headers: { 'idempotency-key': key } });
  const missingKey = await expect(400, 'POST', '/v1/incidents', { token: civ, body });
  assert.is(missingKey.body.code, 'missing_idempotency_key');
  await expect(400, 'POST', '/v1/incidents', { token: civ, body: { ...body, location: { lat: 86, lng: 0 } }, headers: { 'idempotency-key': uid('k-') } });
  await expect(403, 'POST', '/v1/incidents', { token: disp, body, headers: { 'idempotency-key': uid('k-') } });
  // Over REPORTS_PER_MINUTE: 429 with Retry-After.
  const busy = await server.token('civilian', uid('civ-'));
  for (let i = 0; i < REPORTS_PER_MINUTE; i++) await report(server, busy, { kind: 'other', severity: 'low', location: area() });
  const throttled = await expect(429, 'POST', '/v1/incidents', { token: busy, body: { kind: 'other', severity: 'low', location: area() }, headers: { 'idempotency-key': uid('k-') } });
  assert.ok(throttled.headers.get('retry-after'));

  await expect(200, 'GET', '/v1/incidents?state=dispatching,escalated,reported', { token: disp });
  await expect(400, 'GET', '/v1/incidents?state=sleeping', { token: disp });
  await expect(403, 'GET', '/v1/incidents', { token: civ });
  await expect(200, 'GET', `/v1/incidents/${id}`, { token: civ });
  await expect(403, 'GET', `/v1/incidents/${id}`, { token: other });
  await expect(404, 'GET', `/v1/incidents/${uid('i-')}`, { token: disp });
  const page = await expect(200, 'GET', `/v1/incidents/${id}/events?limit=1`, { token: disp });
  assert.is(page.body.next, 1, 'a page with more after it says where to go on');
  await expect(200, 'GET', `/v1/incidents/${id}/events`, { token: civ });
  await expect(400, 'GET', `/v1/incidents/${id}/events?limit=3`, { token: disp });
  await expect(403, 'GET', `/v1/incidents/${id}/events`, { token: heroToken });

  await expect(404, 'POST', `/v1/incidents/${id}/assign`, { token: disp, body: { heroId: uid('h-') } });
  await expect(200, 'POST', `/v1/incidents/${id}/assign`, { token: disp, body: { heroId: hero.id } });
  await expect(409, 'POST', `/v1/incidents/${id}/assign`, { token: disp, body: { heroId: hero.id } });
  await expect(200, 'GET', `/v1/incidents/${id}`, { token: heroToken });
  await expect(200, 'POST', `/v1/incidents/${id}/reassign`, { token: disp, body: { reason: 'openapi suite', heroId: hero.id } });
  await expect(409, 'POST', `/v1/incidents/${id}/reassign`, { token: disp, body: { reason: 'again', heroId: hero.id } });
  // The timeline (JSON, GeoJSON, CSV): dispatchers only.
  await expect(200, 'GET', `/v1/incidents/${id}/timeline`, { token: disp });
  await expect(200, 'GET', `/v1/incidents/${id}/timeline?format=geojson`, { token: disp });
  await expect(200, 'GET', `/v1/incidents/${id}/timeline?format=csv`, { token: disp });
  await expect(403, 'GET', `/v1/incidents/${id}/timeline`, { token: civ });
  // Its offers, each with why its hero was asked (issue 16): dispatchers only.
  await expect(200, 'GET', `/v1/incidents/${id}/offers`, { token: disp });
  await expect(403, 'GET', `/v1/incidents/${id}/offers`, { token: civ });
  // NENA EIDO export: dispatchers only.
  await expect(200, 'GET', `/v1/incidents/${id}/eido`, { token: disp });
  await expect(403, 'GET', `/v1/incidents/${id}/eido`, { token: civ });
  // Public alerts (OASIS CAP): a dispatcher's warning, then the public feed and message.
  await expect(403, 'POST', `/v1/incidents/${id}/public-warning`, { token: civ, body: {} });
  const warned = await expect(201, 'POST', `/v1/incidents/${id}/public-warning`, { token: disp, body: { radiusKm: 1 } });
  await expect(200, 'POST', `/v1/incidents/${id}/public-warning`, { token: disp, body: { headline: 'openapi suite' } });
  await expect(200, 'GET', '/v1/alerts/cap');
  await expect(200, 'GET', warned.body.url);
  await expect(404, 'GET', '/v1/alerts/cap/no-such-message');
  await expect(200, 'DELETE', `/v1/incidents/${id}/public-warning`, { token: disp });
  await expect(404, 'DELETE', `/v1/incidents/${id}/public-warning`, { token: disp });
  await expect(200, 'POST', `/v1/incidents/${id}/cancel`, { token: civ, body: { reason: 'openapi suite' } });
  await expect(409, 'POST', `/v1/incidents/${id}/cancel`, { token: disp, body: { reason: 'again' } });
  await expect(400, 'POST', `/v1/incidents/${id}/cancel`, { token: disp, body: { reason: '' } });

  await expect(204, 'POST', '/v1/admin/session', { token: disp });
  await expect(403, 'POST', '/v1/admin/session', { token: civ });
  await expect(204, 'DELETE', '/v1/admin/session');

  assert.equal(responseMismatches(server.app.http), [], 'answers that do not match the document');
  // Every documented operation was seen answering 2xx, so each schema above was checked.
  const seen = new Set(responsesObserved(server.app.http).filter((o) => o.status < 300).map((o) => `${o.method.toLowerCase()} ${openapiPath(o.url)}`));
  assert.equal(operations(doc).map((o) => `${o.method} ${o.path}`).filter((o) => !seen.has(o)), [], 'documented but never exercised');
});

test('the docs UI renders from the server alone, under its CSP', async ({ server }) => {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page, errors, elsewhere, violations } = await originPage(browser, server.url);
    const res = await page.goto(`${server.url}/docs`, { waitUntil: 'domcontentloaded' });
    assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('.swagger-ui .info .title:has-text("Superhero Dispatch")').waitFor();
    await page.locator('.opblock-summary-path[data-path="/v1/incidents/{id}/assign"]').first().waitFor();
    assert.equal(await violations(), [], 'CSP violations');
    assert.equal(elsewhere, [], 'requests to other origins');
    assert.equal(errors, [], 'console errors');
  } finally {
    await browser?.close();
  }
});

test.run();
