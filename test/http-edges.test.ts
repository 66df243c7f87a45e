// The HTTP edges: nothing a client sends is answered 500 (text Postgres cannot store,
// ids that are not well formed, coordinates the location index cannot hold), /metrics
// is computed once however often it is scraped and answers only its token, and every
// response carries the browser headers (CSP and frame protection on pages).
import { connect as tcp } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isDataException } from '../server/data-exception.ts';
import { http, sleep, type HttpAnswer } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, report } from './helpers/world.ts';

const METRICS_TOKEN = 'metrics-token-for-the-edges-suite-0123456789';
const METRICS_CACHE_MS = 1_500;
const TILES = 'https://tile.example.org/{z}/{x}/{y}.png';

interface Ctx { server: TestServer; plain: TestServer }
const test = suite<Ctx>('http edges');

test.before(async (ctx) => {
  ctx.server = await startServer({ METRICS_TOKEN, METRICS_CACHE_MS, MAP_TILES_URL: TILES });
  // Defaults: no metrics token, no tiles.
  ctx.plain = await startServer();
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await ctx.plain?.stop();
});
test.after.each(async (ctx) => {
  await checkInvariants(ctx.server);
  await checkInvariants(ctx.plain);
});

function assertInvalid(res: HttpAnswer, what: string): void {
  assert.is(res.status, 400, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.is(res.body.code, 'invalid', what);
}

async function written(server: TestServer, civilian: string) {
  const [row] = await server.app.sql`select
    (select count(*) from incidents where reported_by = ${civilian})::int as incidents,
    (select count(*) from idempotency_keys where actor = ${civilian})::int as keys,
    (select count(*) from incident_events where actor like ${`%${civilian}%`})::int as events`;
  return { ...row };
}

/**
 * One raw HTTP/1.1 exchange (send `Connection: close`), for what fetch refuses to
 * send. Resolves to the status (0: closed without one).
 */
function rawRequest(server: TestServer, head: Buffer | string, ms = 5_000): Promise<number> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = tcp(Number(port), '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('raw request timed out')); }, ms);
    socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
    socket.on('close', () => { clearTimeout(timer); resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)); });
    socket.on('error', () => {}); // a reset after the answer is fine; 'close' follows
    socket.write(head); // not end(): a half-closed request is dropped before its answer
  });
}

test('text Postgres cannot store is 400 invalid and writes nothing', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const location = area();
  const body = (description: string) => JSON.stringify({ kind: 'fire', severity: 'high', location, description });
  const post = (raw: string) => http(server, 'POST', '/v1/incidents', { token, raw, headers: { 'idempotency-key': uid('k-') } });

  const nul = await post(body('smoke\u0000here'));
  assertInvalid(nul, 'NUL in description');
  assert.ok(nul.body.errors.some((e: { path: string }) => e.path === 'description'), JSON.stringify(nul.body.errors));
  assertInvalid(await post(`{"kind":"fire","severity":"high","location":${JSON.stringify(location)},"description":"a\\ud800b"}`), 'lone surrogate in description');
  assertInvalid(await post(`{"kind":"fire","severity":"high","location":${JSON.stringify(location)},"description":"a\\udc00"}`), 'lone low surrogate');
  assert.equal(await written(server, civ), { incidents: 0, keys: 0, events: 0 });

  // Well-formed unicode, emoji and other control characters are text like any other.
  const fine = await post(body('🔥 fire — «here»\ttab'));
  assert.is(fine.status, 201, JSON.stringify(fine.body));
});

test('a malformed id in the path is 400 invalid before any handler; odd but well-formed ids are 404; never 500', async ({ server }) => {
  const token = await server.token('dispatcher', uid('d-'));
  const get = (path: string) => http(server, 'GET', path, { token });
  const before = await server.app.sql`select count(*)::int as n from incidents`;

  const nul = await get('/v1/incidents/%00');
  assertInvalid(nul, 'NUL id');
  assert.equal(nul.body.errors, [{ path: 'id', message: 'contains control characters' }]);
  for (const path of ['/v1/incidents/%00/events', '/v1/incidents/a%01b', '/v1/incidents/%7F', '/v1/heroes/%00',
    `/v1/incidents/${'x'.repeat(201)}`, '/v1/incidents/%ED%A0%80', '/v1/incidents/%E0', '/assets/%00.js']) {
    assertInvalid(await get(path), path);
  }
  assertInvalid(await http(server, 'POST', '/v1/incidents/%00/cancel', { token, body: { reason: 'x' } }), 'POST with a NUL id');
  // Without a token too: the path is refused before anyone is identified.
  assertInvalid(await http(server, 'GET', '/v1/incidents/%00'), 'NUL id, no token');

  for (const path of [`/v1/incidents/${'x'.repeat(150)}`, `/v1/incidents/${'x'.repeat(200)}`, '/v1/incidents/%F0%9F%94%A5',
    '/v1/incidents/%E2%80%AE', '/v1/incidents/..%2F..%2Fetc', '/v1/heroes/%20', `/v1/heroes/${'é'.repeat(120)}`, '/assets/..%2Fserver.ts']) {
    const res = await get(path);
    assert.is(res.status, 404, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  // Request targets that are not URLs at all.
  assert.is(await rawRequest(server, 'GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400, 'GET //');
  assert.is(await rawRequest(server, 'GET //a:b@/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400, 'GET //a:b@/x');
  const after = await server.app.sql`select count(*)::int as n from incidents`;
  assert.equal(after, before);
});

test('odd Idempotency-Key headers are refused or stored, never 500', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const { port } = new URL(server.url);
  const send = (key: Buffer, payload = JSON.stringify({ kind: 'other', severity: 'low', location: area() })) => rawRequest(server, Buffer.concat([
    Buffer.from(`POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\nIdempotency-Key: `),
    key, Buffer.from(`\r\n\r\n${payload}`),
  ]));
  const cases: [string, Buffer, number[]][] = [
    ['NUL byte', Buffer.from('a\u0000b', 'latin1'), [400]],
    ['control byte', Buffer.from('a\u0001b', 'latin1'), [400]],
    ['DEL byte', Buffer.from('a\u007fb', 'latin1'), [400, 201]],
    ['bytes over 0x7f', Buffer.from([0x61, 0xff, 0xfe, 0x80]), [201]],
    ['UTF-8 bytes', Buffer.from('clé-🔑', 'utf8'), [201]],
    ['201 characters', Buffer.from('k'.repeat(201)), [400]],
    ['empty', Buffer.from(''), [400]],
  ];
  for (const [what, key, allowed] of cases) {
    const status = await send(key);
    assert.ok(allowed.includes(status), `${what}: answered ${status}, expected ${allowed.join(' or ')}`);
  }
});

test('a report at latitude 86 is 400 with an error for location.lat; a ping there is refused invalid', async ({ server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const res = await http(server, 'POST', '/v1/incidents', {
    token, body: { kind: 'fire', severity: 'critical', location: { lat: 86, lng: 10 } }, headers: { 'idempotency-key': uid('k-') },
  });
  assertInvalid(res, 'latitude 86');
  assert.ok(res.body.errors.some((e: { path: string }) => e.path === 'location.lat'), JSON.stringify(res.body.errors));
  assertInvalid(await http(server, 'POST', '/v1/incidents', {
    token, body: { kind: 'fire', severity: 'critical', location: { lat: -85.06, lng: 10 } }, headers: { 'idempotency-key': uid('k-') },
  }), 'latitude -85.06');
  assert.equal(await written(server, civ), { incidents: 0, keys: 0, events: 0 });
  // The edge of what the index holds is still a place.
  const edge = await report(server, token, { kind: 'fire', severity: 'low', location: { lat: 85.05, lng: 10 } });
  assert.is(edge.status, 201);

  const hero = await heroOnline(server, area());
  try {
    const ack = await hero.client.ask('location', { lat: 86, lng: 10 });
    assert.is(ack.ok, false, JSON.stringify(ack));
    assert.is(ack.reason, 'invalid');
    assert.equal(await hero.client.ask('location', { lat: 85, lng: 10 }), { ok: true });
  } finally {
    closeAll(hero);
  }
});

test('a value Postgres refuses as data is a data exception, and the router answers it 400, not 500', async ({ server }) => {
  // The detector, on real Postgres errors.
  const refusal = await server.app.sql`select ${'a\u0000b'}::text`.then(() => null, (e: unknown) => e);
  assert.ok(refusal, 'Postgres refuses a NUL');
  assert.ok(isDataException(refusal), `22xxx: ${String((refusal as { code?: string }).code)}`);
  const cast = await server.app.sql`select ${'x'}::int`.then(() => null, (e: unknown) => e);
  assert.ok(isDataException(cast), '22P02 invalid text representation');
  const other = await server.app.sql`select * from no_such_table`.then(() => null, (e: unknown) => e);
  assert.not.ok(isDataException(other), 'a missing table (42P01) is our fault, not the client\'s');
  assert.not.ok(isDataException(Object.assign(new Error('x'), { code: '22001' })), 'only Postgres errors count');

  // Through the server: a token (ours, signed with the secret) whose subject Postgres
  // cannot store reaches the INSERT; it must not be a 500.
  const token = await server.token('civilian', `civ-${uid()}\u0000`);
  const res = await http(server, 'POST', '/v1/incidents', {
    token, body: { kind: 'fire', severity: 'low', location: area() }, headers: { 'idempotency-key': uid('k-') },
  });
  assert.ok([400, 401].includes(res.status), `answered ${res.status} ${JSON.stringify(res.body)}`);
  if (res.status === 400) assert.is(res.body.code, 'invalid');
});

// ---- /metrics ----------------------------------------------------------------------

const computations = (text: string) => Number(/^dispatch_metrics_computations_total (\d+)/m.exec(text)?.[1] ?? NaN);
/** A scrape with the suite's token, another token, or none (null). */
const scrape = (server: TestServer, token: string | null = METRICS_TOKEN) =>
  http(server, 'GET', '/metrics', token === null ? {} : { token });

test('fifty concurrent scrapes share one computation; the cache expires after METRICS_CACHE_MS', async ({ server }) => {
  const first = await scrape(server);
  assert.is(first.status, 200);
  const n0 = computations(first.body);
  assert.ok(Number.isInteger(n0) && n0 >= 1, `computation counter in the output: ${n0}`);
  // Inside the window: the same text, no new computation.
  assert.is(computations((await scrape(server)).body), n0);

  await sleep(METRICS_CACHE_MS + 100);
  const burst = await Promise.all(Array.from({ length: 50 }, () => scrape(server)));
  assert.ok(burst.every((r) => r.status === 200), 'every scrape answered');
  const seen = new Set(burst.map((r) => computations(r.body)));
  assert.equal([...seen], [n0 + 1], `50 concurrent scrapes saw computations ${[...seen].join(', ')}`);
  assert.is(new Set(burst.map((r) => r.body)).size, 1, 'they share one text');
  assert.is((await server.app.metrics.metricsComputations.get()).values[0]?.value, n0 + 1, 'the registry agrees: one computation');

  await sleep(METRICS_CACHE_MS + 100);
  assert.is(computations((await scrape(server)).body), n0 + 2, 'a scrape after the window computes again');
});

test('with METRICS_TOKEN set, /metrics answers 401 without it or with another, 200 with it; without one, anyone', async ({ server, plain }) => {
  for (const [what, token] of [['no token', null], ['wrong token', `${METRICS_TOKEN}x`], ['short token', 'x'], ['a user token', await server.token('dispatcher', uid('d-'))]] as const) {
    const res = await scrape(server, token);
    assert.is(res.status, 401, `${what}: ${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
    assert.is(res.body.code, 'unauthorized', what);
    assert.is(res.headers.get('www-authenticate'), 'Bearer', what);
  }
  const lower = await http(server, 'GET', '/metrics', { headers: { authorization: `bearer ${METRICS_TOKEN}` } });
  assert.is(lower.status, 200, 'the scheme is case-insensitive');
  const ok = await scrape(server);
  assert.is(ok.status, 200);
  assert.match(ok.body, /dispatch_reports_total/);
  assert.is((await scrape(plain, null)).status, 200, 'no METRICS_TOKEN: open');
});

// ---- browser headers ---------------------------------------------------------------

function directives(csp: string | null): Map<string, string[]> {
  return new Map((csp ?? '').split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...v]) => [name!, v]));
}

test('every page carries the CSP (with the tiles origin when set), frame protection, nosniff and no-referrer', async ({ server, plain }) => {
  for (const path of ['/', '/report', '/hero']) {
    for (const [s, tiles] of [[server, 'https://tile.example.org'], [plain, null]] as const) {
      const res = await http(s, 'GET', path);
      assert.is(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const csp = directives(res.headers.get('content-security-policy'));
      assert.equal(csp.get('default-src'), ["'self'"], `${path} default-src`);
      assert.equal(csp.get('script-src'), ["'self'"], `${path} script-src`);
      assert.equal(csp.get('style-src'), ["'self'"], `${path} style-src`);
      assert.equal(csp.get('img-src'), ["'self'", 'data:', ...(tiles ? [tiles] : [])], `${path} img-src`);
      assert.equal(csp.get('connect-src'), ["'self'"], `${path} connect-src`);
      assert.equal(csp.get('frame-ancestors'), ["'none'"], `${path} frame-ancestors`);
      assert.equal(csp.get('base-uri'), ["'none'"], `${path} base-uri`);
      assert.equal(csp.get('form-action'), ["'self'"], `${path} form-action`);
      assert.equal(csp.get('object-src'), ["'none'"], `${path} object-src`);
      assert.is(res.headers.get('x-frame-options'), 'DENY', path);
      assert.is(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.is(res.headers.get('referrer-policy'), 'no-referrer', path);
    }
  }
});

test('API answers, errors and assets carry nosniff and no-referrer', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const { incident } = await report(server, civ, { kind: 'other', severity: 'low', location: area() });
  const answers = [
    await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: civ }),
    await http(server, 'GET', '/v1/incidents/nope', { token: civ }),
    await http(server, 'GET', '/v1/incidents'),
    await http(server, 'GET', '/v1/no-such-route'),
    await http(server, 'GET', '/v1/incidents/%00'),
    await http(server, 'GET', '/healthz'),
    await http(server, 'GET', '/assets/common.js'),
    await http(server, 'GET', '/assets/config.json'),
  ];
  for (const res of answers) {
    assert.is(res.headers.get('x-content-type-options'), 'nosniff', `${res.status} ${JSON.stringify(res.body).slice(0, 80)}`);
    assert.is(res.headers.get('referrer-policy'), 'no-referrer');
  }
  assert.equal(answers.map((r) => r.status), [200, 404, 401, 404, 400, 200, 200, 200]);
});

test.run();
