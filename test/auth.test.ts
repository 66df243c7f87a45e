// Identity on every door: HTTP answers 401 for a missing, garbage, forged, `alg: none`
// or expired token and 403 for the wrong role or owner; Socket.IO refuses the same
// tokens with `unauthorized` / `forbidden`; `npm run token` mints tokens the server takes.
import { execFile } from 'node:child_process';
import { SignJWT } from 'jose';
import * as assert from 'uvu/assert';
import { connect, eventually, http, type HttpAnswer, connectOutcome } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, dispatcherToken, registerHero, report } from './helpers/world.ts';
import { TokenCache } from '../server/security/token-cache.ts';

const now = () => Math.floor(Date.now() / 1000);
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A token built with jose, signed with `secret`, with the claims given. */
function jwt(secret: string, claims: Record<string, unknown>, exp: number | null = now() + 3600): Promise<string> {
  const signer = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(now() - 7200);
  if (exp !== null) signer.setExpirationTime(exp);
  return signer.sign(new TextEncoder().encode(secret));
}

/** The tokens every door must refuse as unauthorized, each claiming to be a dispatcher. */
async function badTokens(server: TestServer): Promise<Record<string, string | undefined>> {
  const secret = server.app.config.JWT_SECRET;
  const claims = { sub: uid('d-'), role: 'dispatcher' };
  return {
    'no token': undefined,
    garbage: 'not.a.jwt',
    forged: await jwt('another-secret-of-sufficient-length', claims),
    'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, exp: now() + 3600 })}.`,
    expired: await jwt(secret, claims, now() - 60),
    'no exp': await jwt(secret, claims, null),
    'unknown role': await jwt(secret, { sub: 'x', role: 'admin' }),
    'sub with a control character': await jwt(secret, { ...claims, sub: 'd-\n1' }),
    'sub with NUL': await jwt(secret, { ...claims, sub: 'd-\u00001' }),
    'sub not a string': await jwt(secret, { ...claims, sub: 42 }),
  };
}

function assertProblem(res: HttpAnswer, status: number, what: string): void {
  assert.is(res.status, status, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.is(res.body.status, status, what);
  assert.type(res.body.detail, 'string', what);
}


function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'scripts/token.ts', ...args], { cwd: process.cwd(), env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

// This suite sends dozens of bad tokens from one address on purpose: the failed-auth
// budget (AUTH_FAILURES_PER_MIN, test/identity.test.ts) is raised so each is answered 401.
const test = serverSuite('auth', { DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000, AUTH_FAILURES_PER_MIN: 10_000 });

test('HTTP: missing, garbage, forged, alg none, expired tokens are 401', async ({ server }) => {
  // The same jose construction with the right secret and a future exp is accepted.
  const control = await jwt(server.app.config.JWT_SECRET, { sub: uid('d-'), role: 'dispatcher' });
  assert.is((await http(server, 'GET', '/v1/incidents', { token: control })).status, 200, 'control token');

  for (const [what, token] of Object.entries(await badTokens(server))) {
    assertProblem(await http(server, 'GET', '/v1/incidents', token === undefined ? {} : { token }), 401, `${what} on GET /v1/incidents`);
    const heroes = await http(server, 'POST', '/v1/heroes', { ...(token === undefined ? {} : { token }), body: { name: 'Nobody', skills: [], mode: 'air' } });
    assertProblem(heroes, 401, `${what} on POST /v1/heroes`);
  }
  const basic = await http(server, 'GET', '/v1/incidents', { headers: { authorization: `Basic ${control}` } });
  assertProblem(basic, 401, 'Basic scheme');
  const [row] = await server.app.sql`select count(*)::int as n from heroes where name = 'Nobody'`;
  assert.is(row!.n, 0, 'no refused request registered a hero');
});

test('a token accepted before is refused once it expires: the memory of verified tokens ends at exp', async ({ server }) => {
  const token = await jwt(server.app.config.JWT_SECRET, { sub: uid('d-'), role: 'dispatcher' }, now() + 2);
  assert.is((await http(server, 'GET', '/v1/incidents', { token })).status, 200, 'accepted while valid');
  assert.is((await http(server, 'GET', '/v1/incidents', { token })).status, 200, 'accepted again (remembered)');
  await eventually('the token expired', async () => (await http(server, 'GET', '/v1/incidents', { token })).status === 401, 5_000);
});

test('the verified-token memory is bounded and forgets expired entries', () => {
  let clock = 1_000_000;
  const cache = new TokenCache<{ exp: number; n: number }>(2, () => clock);
  cache.set('a', { exp: 2_000, n: 1 });
  cache.set('b', { exp: 1_001, n: 2 });
  cache.set('c', { exp: 2_000, n: 3 });
  assert.is(cache.size, 2);
  assert.is(cache.get('a'), undefined, 'the oldest entry went first');
  assert.is(cache.get('b')?.n, 2);
  clock = 1_001_000;
  assert.is(cache.get('b'), undefined, 'gone at its exp');
  assert.is(cache.get('c')?.n, 3);
});

test('HTTP: a valid token of the wrong role or owner is 403', async ({ server }) => {
  const civA = uid('civ-a-');
  const tokenA = await server.token('civilian', civA);
  const tokenB = await server.token('civilian', uid('civ-b-'));
  assertProblem(await http(server, 'POST', '/v1/heroes', { token: tokenA, body: { name: 'Civ', skills: [], mode: 'ground' } }), 403, 'civilian registers a hero');
  assertProblem(await http(server, 'GET', '/v1/incidents', { token: tokenA }), 403, 'civilian lists incidents');

  const { status, incident } = await report(server, tokenA, { kind: 'fire', severity: 'low', location: area() });
  assert.is(status, 201);
  assertProblem(await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: tokenB }), 403, 'another civilian reads it');
  assertProblem(await http(server, 'GET', `/v1/incidents/${incident.id}/events`, { token: tokenB }), 403, 'another civilian reads its trail');
  assertProblem(await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: tokenB, body: { reason: 'mine now' } }), 403, 'another civilian cancels it');
  assert.is((await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: tokenA })).status, 200, 'its reporter reads it');

  const [h1, h2] = [await registerHero(server), await registerHero(server)];
  const hero1 = await server.token('hero', h1.id);
  assertProblem(await http(server, 'GET', `/v1/heroes/${h2.id}`, { token: hero1 }), 403, 'a hero reads another hero');
  assertProblem(await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: hero1 }), 403, 'a hero reads an incident not theirs');
  assertProblem(await http(server, 'GET', '/v1/incidents', { token: hero1 }), 403, 'a hero lists incidents');
  assertProblem(await http(server, 'POST', '/v1/incidents', { token: hero1, body: { kind: 'fire', severity: 'low', location: area() }, headers: { 'idempotency-key': uid() } }), 403, 'a hero reports');
  assert.is((await http(server, 'GET', `/v1/heroes/${h1.id}`, { token: hero1 })).body.id, h1.id, 'a hero reads themself');

  const disp = await dispatcherToken(server);
  for (const path of [`/v1/heroes/${h1.id}`, `/v1/heroes/${h2.id}`, `/v1/incidents/${incident.id}`, `/v1/incidents/${incident.id}/events`, '/v1/incidents']) {
    assert.is((await http(server, 'GET', path, { token: disp })).status, 200, `dispatcher GET ${path}`);
  }
  const [row] = await server.app.sql`select state from incidents where id = ${incident.id}`;
  assert.ok(row!.state !== 'cancelled', 'the refused cancel changed nothing');
  const cancelled = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: disp, body: { reason: 'cleanup' } });
  assert.is(cancelled.status, 200, 'a dispatcher may cancel any incident');
  assert.is(cancelled.body.state, 'cancelled');
});

test('sockets: bad tokens are unauthorized on every namespace', async ({ server }) => {
  const bad = await badTokens(server);
  for (const namespace of ['hero', 'civilian', 'dispatch'] as const) {
    for (const [what, token] of Object.entries(bad)) {
      assert.is(await connectOutcome(server, namespace, token), 'unauthorized', `${what} on /${namespace}`);
    }
  }
});

test('sockets: a valid token of the wrong role, or an unregistered hero, is forbidden', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  assert.is(await connectOutcome(server, 'hero', civ), 'forbidden', 'civilian on /hero');
  assert.is(await connectOutcome(server, 'dispatch', civ), 'forbidden', 'civilian on /dispatch');
  const ghost = await server.token('hero', uid('ghost-'));
  assert.is(await connectOutcome(server, 'hero', ghost), 'forbidden', 'unregistered hero on /hero');
  assert.is(await connectOutcome(server, 'dispatch', ghost), 'forbidden', 'hero on /dispatch');
  const disp = await dispatcherToken(server);
  assert.is(await connectOutcome(server, 'hero', disp), 'forbidden', 'dispatcher on /hero');
  assert.is(await connectOutcome(server, 'civilian', disp), 'forbidden', 'dispatcher on /civilian');

  const hero = await registerHero(server);
  assert.is(await connectOutcome(server, 'hero', await server.token('hero', hero.id)), 'connected', 'registered hero on /hero');
  const { incident } = await report(server, civ, { kind: 'other', severity: 'low', location: area() });
  const dispatcher = await connect(server, 'dispatch', disp);
  const snapshot = await dispatcher.next('snapshot');
  assert.ok(Array.isArray(snapshot.incidents) && Array.isArray(snapshot.heroes), JSON.stringify(snapshot).slice(0, 200));
  assert.ok(snapshot.incidents.some((i: { id: string }) => i.id === incident.id), 'the snapshot lists the open incident');
  dispatcher.close();
  // Let its first dispatch round land before the invariants read the trail.
  await eventually('first round', async () => (await server.app.sql`select version from incidents where id = ${incident.id}`)[0]?.version >= 2);
});

test('npm run token: prints a token the server accepts; a bad role is a usage error', async ({ server }) => {
  const env = { ...process.env, JWT_SECRET: server.app.config.JWT_SECRET };
  const hero = await registerHero(server);
  const [h1, real, wizard] = await Promise.all([run(['hero', 'h1'], env), run(['hero', hero.id], env), run(['wizard', 'x'], env)]);

  assert.is(h1.code, 0, h1.stderr);
  const token = h1.stdout.trim().split('\n').pop()!;
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
  assert.is(claims.sub, 'h1');
  assert.is(claims.role, 'hero');
  assert.ok(claims.exp > now(), 'exp in the future');
  // Authenticated as hero h1 reading their own record, which does not exist.
  assertProblem(await http(server, 'GET', '/v1/heroes/h1', { token }), 404, 'h1 reads h1');
  assertProblem(await http(server, 'GET', `/v1/heroes/${hero.id}`, { token }), 403, 'h1 reads another hero');

  assert.is(real.code, 0, real.stderr);
  const me = await http(server, 'GET', `/v1/heroes/${hero.id}`, { token: real.stdout.trim().split('\n').pop()! });
  assert.is(me.status, 200);
  assert.is(me.body.id, hero.id);

  assert.ok(wizard.code !== 0 && wizard.code !== null, `exit code ${wizard.code}`);
  assert.match(wizard.stderr, /usage: .*<civilian\|hero\|dispatcher> <id>/);
  assert.is(wizard.stdout.trim(), '', 'no token printed');
});

test('npm run token: the lifetime is capped at 24 h; aud/iss are included when configured', async () => {
  const env = { ...process.env, JWT_SECRET: 'a-test-secret-for-the-token-script-0123456789', JWT_AUDIENCE: 'sd-aud', JWT_ISSUER: 'sd-iss' };
  const [day, long, junk, nul] = await Promise.all([
    run(['dispatcher', 'd1', '86400'], env), run(['dispatcher', 'd1', '86401'], env),
    run(['dispatcher', 'd1', 'forever'], env), run(['dispatcher', 'd\u0001x'], env),
  ]);
  assert.is(day.code, 0, day.stderr);
  const claims = JSON.parse(Buffer.from(day.stdout.trim().split('\n').pop()!.split('.')[1]!, 'base64url').toString());
  assert.ok(claims.exp - claims.iat === 86_400, `lifetime ${claims.exp - claims.iat}`);
  assert.is(claims.aud, 'sd-aud');
  assert.is(claims.iss, 'sd-iss');
  for (const [what, res] of [['86401 s', long], ['not a number', junk]] as const) {
    assert.is(res.code, 2, `${what}: exit ${res.code}`);
    assert.match(res.stderr, /at most|from 1 to 86400/, what);
    assert.is(res.stdout.trim(), '', `${what}: no token printed`);
  }
  assert.is(nul.code, 2, 'an id with a control character is refused');
  assert.is(nul.stdout.trim(), '');
});

test.run();
