// Identity at the edges: a production start refuses the default or a weak secret;
// configured `aud`/`iss` are required; a socket is cut when its token expires; the
// default namespace refuses everyone; Socket.IO checks Origin against an allowlist.
import { request } from 'node:http';
import { SignJWT } from 'jose';
import { dropStores } from '../scripts/lib/lifecycle.ts';
import { spawnServerProcess, type ServerProcess } from '../scripts/lib/server-process.ts';
import { io } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEV_SECRET } from '../server/config.ts';
import { connect, eventually, http, sleep, connectOutcome } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, report } from './helpers/world.ts';

const now = () => Math.floor(Date.now() / 1000);
const STRONG = 'k8Vq2mZ7xR4tN1pW9sLc3bHf6YjD0gQe5uAa';

/** `npm start` as a child (an undefined setting is removed from its environment). */
const start = (env: Record<string, string | undefined>) => spawnServerProcess({ LOG_LEVEL: 'info', ...env });
/** Its exit code, SIGKILLing it after `ms`. */
const exitWithin = async (p: ServerProcess, ms: number) => (await p.exitWithin(ms)).code;

function jwt(secret: string, claims: Record<string, unknown>, opts: { aud?: string; iss?: string } = {}): Promise<string> {
  const signer = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(now() + 3600);
  if (opts.aud) signer.setAudience(opts.aud);
  if (opts.iss) signer.setIssuer(opts.iss);
  return signer.sign(new TextEncoder().encode(secret));
}


/** A socket.io-client connection with an explicit Origin header (or none). */
function withOrigin(server: TestServer, origin: string | undefined, token: string): Promise<string> {
  const socket = io(`${server.url}/civilian`, {
    auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5_000,
    extraHeaders: origin === undefined ? {} : { origin },
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.disconnect(); resolve('timed out'); }, 6_000);
    socket.once('connect', () => { clearTimeout(timer); socket.disconnect(); resolve('connected'); });
    socket.once('connect_error', (err) => { clearTimeout(timer); socket.disconnect(); resolve(`refused: ${err.message}`); });
  });
}

/** A raw engine.io polling handshake: the status, the body and the CORS header. */
function handshake(server: TestServer, origin: string): Promise<{ status: number; body: string; allowOrigin: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin }, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, allowOrigin: res.headers['access-control-allow-origin'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('handshake timed out')));
    req.on('error', reject);
    req.end();
  });
}

const test = suite<{ server: TestServer; strict: TestServer }>('identity');
// The real servers' schemas and Redis prefixes (their BullMQ schedulers stay after they stop).
const stores: { schema: string; prefix: string }[] = [];

test.before(async (ctx) => {
  ctx.server = await startServer({ CORS_ORIGINS: 'https://console.example, https://ops.example:8443' });
  ctx.strict = await startServer({ JWT_AUDIENCE: 'sd-test-aud', JWT_ISSUER: 'sd-test-iss' });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await ctx.strict?.stop();
  await dropStores(stores);
});
test.after.each(async (ctx) => {
  await checkInvariants(ctx.server);
  await checkInvariants(ctx.strict);
});

test('production start refuses the default, an example and a weak JWT_SECRET, saying how to set one', async () => {
  const cases: [string, string | undefined, RegExp][] = [
    ['no JWT_SECRET (the default)', undefined, /default or an example secret/],
    ['the default, set explicitly', DEV_SECRET, /default or an example secret/],
    ['too short', 'short-but-over-16-chars', /at least 32/],
    ['too few distinct characters', 'abababababababababababababababababab', /distinct characters/],
  ];
  const procs = cases.map(([, secret]) => start({ NODE_ENV: 'production', JWT_SECRET: secret, PORT: '0' }));
  for (const [i, [what, , why]] of cases.entries()) {
    const code = await exitWithin(procs[i]!, 20_000);
    const out = procs[i]!.out.join('');
    assert.is(code, 2, `${what}: exit ${code}\n${out}`);
    assert.match(out, /JWT_SECRET/, what);
    assert.match(out, why, what);
    assert.match(out, /Set JWT_SECRET to at least 32 random characters.*openssl rand/, `${what}: says how to set one`);
    assert.not.match(out, /dispatch server listening/, `${what}: never listened`);
  }
});

test('production start with a strong secret serves, and signs nothing with the default', async () => {
  const store = { schema: uid('t_prod_'), prefix: uid('tp') };
  stores.push(store);
  const p = start({ NODE_ENV: 'production', JWT_SECRET: STRONG, PORT: '0', DB_SCHEMA: store.schema, REDIS_PREFIX: store.prefix });
  try {
    const port = await eventually('server to listen', () => {
      const m = /"port":(\d+)[^\n]*dispatch server listening/.exec(p.out.join(''));
      return m ? Number(m[1]) : null;
    }, 20_000);
    const get = (token: string) => fetch(`http://127.0.0.1:${port}/v1/incidents`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
    const claims = { sub: 'd-1', role: 'dispatcher' };
    assert.is((await get(await jwt(DEV_SECRET, claims))).status, 401, 'a token signed with the printed default secret');
    assert.is((await get(await jwt(STRONG, claims))).status, 200, 'a token signed with the configured secret');
    p.child.kill('SIGTERM');
    assert.is(await exitWithin(p, 15_000), 0);
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});

test('JWT_AUDIENCE / JWT_ISSUER: tokens without them, or with others, are refused on HTTP and sockets', async ({ strict }) => {
  const secret = strict.app.config.JWT_SECRET;
  const claims = () => ({ sub: uid('d-'), role: 'dispatcher' });
  const refused: [string, string][] = [
    ['neither', await jwt(secret, claims())],
    ['audience only', await jwt(secret, claims(), { aud: 'sd-test-aud' })],
    ['issuer only', await jwt(secret, claims(), { iss: 'sd-test-iss' })],
    ['another audience', await jwt(secret, claims(), { aud: 'other-aud', iss: 'sd-test-iss' })],
    ['another issuer', await jwt(secret, claims(), { aud: 'sd-test-aud', iss: 'other-iss' })],
  ];
  for (const [what, token] of refused) {
    const res = await http(strict, 'GET', '/v1/incidents', { token });
    assert.is(res.status, 401, `${what}: HTTP ${res.status}`);
    assert.is(await connectOutcome(strict, 'dispatch', token), 'unauthorized', `${what}: socket`);
  }
  const good = await jwt(secret, claims(), { aud: 'sd-test-aud', iss: 'sd-test-iss' });
  assert.is((await http(strict, 'GET', '/v1/incidents', { token: good })).status, 200, 'both claims: HTTP');
  assert.is(await connectOutcome(strict, 'dispatch', good), 'connected', 'both claims: socket');
  // What the server signs carries them.
  const signed = await strict.token('dispatcher', uid('d-'));
  const payload = JSON.parse(Buffer.from(signed.split('.')[1]!, 'base64url').toString());
  assert.equal([payload.aud, payload.iss], ['sd-test-aud', 'sd-test-iss']);
  assert.is((await http(strict, 'GET', '/v1/incidents', { token: signed })).status, 200, 'a token the server signed');
});

test('a /dispatch socket is cut when its token expires, told why, and gets no push after', async ({ server }) => {
  const short = await server.token('dispatcher', uid('disp-short-'), 2);
  const exp = JSON.parse(Buffer.from(short.split('.')[1]!, 'base64url').toString()).exp as number;
  const cut = await connect(server, 'dispatch', short);
  let reason = '';
  cut.socket.on('disconnect', (r) => { reason = r; });
  const watcher = await connect(server, 'dispatch', await server.token('dispatcher', uid('disp-long-')));
  await cut.next('snapshot');

  const notice = await cut.next('session:expired', () => true, (exp - now() + 3) * 1000);
  assert.equal(notice, { reason: 'unauthorized' });
  const noticedAt = cut.events.find((e) => e.name === 'session:expired')!.at;
  assert.ok(noticedAt >= exp * 1000 - 100, `cut ${exp * 1000 - noticedAt} ms before the token expired`);
  await eventually('the cut socket to be disconnected', () => !cut.socket.connected, 2_000);
  assert.is(reason, 'io server disconnect', 'the server closed it');
  const sockets = await server.app.io.of('/dispatch').fetchSockets();
  assert.not.ok(sockets.some((s) => s.data.claims?.sub === JSON.parse(Buffer.from(short.split('.')[1]!, 'base64url').toString()).sub), 'no server-side socket left');

  // A new incident is pushed to the dispatcher whose token is valid, and not to the cut one.
  const { status, incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'fire', severity: 'low', location: area() });
  assert.is(status, 201);
  await watcher.next('incident', (i: { id: string }) => i.id === incident.id);
  await sleep(200);
  assert.not.ok(cut.events.some((e) => e.name === 'incident' && e.at > noticedAt), 'no incident push after the cut');
  watcher.close();
  await eventually('first round', async () => (await server.app.sql`select version from incidents where id = ${incident.id}`)[0]?.version >= 2);
});

test('the default namespace refuses every connection, with or without a token', async ({ server }) => {
  const tokens = [undefined, 'garbage', await server.token('dispatcher', uid('d-')), await server.token('civilian', uid('c-'))];
  for (const token of tokens) {
    const socket = io(`${server.url}/`, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5_000 });
    const result = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('timed out'), 6_000);
      socket.once('connect', () => { clearTimeout(timer); resolve('connected'); });
      socket.once('connect_error', (err) => { clearTimeout(timer); resolve(err.message); });
    });
    socket.disconnect();
    assert.is(result, 'forbidden', `token ${token === undefined ? 'none' : token.slice(0, 12)}`);
  }
});

test('Origin: a foreign page is refused; same-origin, listed origins and no Origin are allowed', async ({ server }) => {
  const token = await server.token('civilian', uid('civ-'));
  const port = new URL(server.url).port;
  for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`, 'https://console.example.evil.example', 'https://ops.example', 'not a url']) {
    assert.match(await withOrigin(server, origin, token), /^refused/, `Origin ${origin}`);
  }
  for (const origin of [undefined, server.url, 'https://console.example', 'https://ops.example:8443']) {
    assert.is(await withOrigin(server, origin, token), 'connected', `Origin ${origin ?? '(none)'}`);
  }
  // The engine.io handshake says why, and CORS reflects only allowed origins.
  const evil = await handshake(server, 'https://evil.example');
  assert.is(evil.status, 403);
  assert.match(evil.body, /"message":"forbidden"/);
  assert.is(evil.allowOrigin, undefined, 'no CORS header for a refused origin');
  const listed = await handshake(server, 'https://console.example');
  assert.is(listed.status, 200, listed.body);
  assert.is(listed.allowOrigin, 'https://console.example');
});

test.run();
