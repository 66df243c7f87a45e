// Budgets at the socket and HTTP edges: every socket event per user (shared by the
// user's sockets, refused before Postgres), pings per user, connects per user, failed
// authentications per address (HTTP and sockets together), and new connections per
// address, sized so a thousand phones behind one NAT address all get in.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, eventually, http, type Client, connectOutcome } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, dispatcherToken, heroOnline, matchable, registerHero, report } from './helpers/world.ts';

const RATE_LIMITED = { ok: false, reason: 'rate_limited' };


/** What a refused hero event must not touch. */
async function heroRows(server: TestServer, heroId: string, incidentId: string) {
  const sql = server.app.sql;
  const [hero] = await sql`select on_duty, status, status_version::text from heroes where id = ${heroId}`;
  const [incident] = await sql`select state, version from incidents where id = ${incidentId}`;
  const offers = await sql`select id, state from offers where incident_id = ${incidentId} order by id`;
  const assignments = await sql`select id::text, state from assignments where incident_id = ${incidentId}`;
  return JSON.parse(JSON.stringify({ hero, incident, offers, assignments }));
}

const test = suite<{ events: TestServer; auth: TestServer; wide: TestServer; narrow: TestServer }>('budgets');

test.before(async (ctx) => {
  // One event per user per 10 s: after the first, every event within 10 s is over budget.
  ctx.events = await startServer({ SOCKET_EVENTS_PER_10S: 1, PINGS_PER_10S: 2, SOCKET_CONNECTS_PER_10S: 3, OFFER_TIMEOUT_MS: 30_000 });
  ctx.auth = await startServer({ AUTH_FAILURES_PER_MIN: 3 });
  ctx.wide = await startServer({}); // the default connection budget
  ctx.narrow = await startServer({ CONNECTIONS_PER_10S: 5 });
});
test.after(async (ctx) => {
  for (const s of [ctx.events, ctx.auth, ctx.wide, ctx.narrow]) await s?.stop();
});
test.after.each(async (ctx) => {
  for (const s of [ctx.events, ctx.auth, ctx.wide, ctx.narrow]) await checkInvariants(s);
});

test('every hero event is budgeted per user: two sockets share it, and refused events never reach Postgres', async ({ events: server }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.3); // its `duty` spends the hero's one event
  const second = await connect(server, 'hero', hero.token);
  await matchable(server, [hero]);
  const { incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'fire', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  const before = await heroRows(server, hero.id, incident.id);
  assert.equal(before.offers.map((o: { state: string }) => o.state), ['pending']);

  // Both sockets, every acked event: all over the one user's budget.
  const asks: [Client, string, unknown][] = [];
  for (const c of [hero.client, second]) {
    asks.push([c, 'offer:accept', { offerId: offer.offerId }], [c, 'offer:decline', { offerId: offer.offerId }],
      [c, 'duty', { onDuty: false }], [c, 'incident:progress', { incidentId: incident.id, state: 'en_route' }]);
  }
  const answers = await Promise.all(asks.map(([c, event, payload]) => c.ask(event, payload)));
  answers.forEach((a, i) => assert.equal(a, RATE_LIMITED, `${asks[i]![1]} on socket ${i < 4 ? 1 : 2}`));
  assert.equal(await heroRows(server, hero.id, incident.id), before, 'no refused event changed a row');

  // Malformed events are still answered `invalid` (no budget spent on them), and the
  // budget refills: the same accept then wins.
  assert.is((await second.ask('offer:accept', { offerId: 42 })).reason, 'invalid');
  const won = await eventually('the budget to refill', async () => {
    const a = await second.ask('offer:accept', { offerId: offer.offerId });
    return a.ok === true ? a : (assert.equal(a, RATE_LIMITED), null);
  }, 12_000);
  assert.equal(won, { ok: true, incidentId: incident.id });
  hero.client.close();
  second.close();
});

test('pings are budgeted per user, not per socket', async ({ events: server }) => {
  const hero = await registerHero(server);
  const token = await server.token('hero', hero.id);
  const [a, b] = [await connect(server, 'hero', token), await connect(server, 'hero', token)];
  const at = area();
  assert.equal(await a.ask('location', at), { ok: true });
  assert.equal(await b.ask('location', at), { ok: true });
  assert.equal(await b.ask('location', at), RATE_LIMITED, 'the third ping of the user, on either socket');
  assert.equal(await a.ask('location', at), RATE_LIMITED);
  a.close();
  b.close();
});

test('incident:watch is budgeted per civilian; connects are budgeted per user', async ({ events: server }) => {
  const civ = uid('civ-');
  const token = await server.token('civilian', civ);
  const { incident } = await report(server, token, { kind: 'other', severity: 'low', location: area() });
  const [a, b] = [await connect(server, 'civilian', token), await connect(server, 'civilian', token)];
  const first = await a.ask('incident:watch', { incidentId: incident.id });
  assert.is(first.ok, true, JSON.stringify(first));
  assert.equal(await b.ask('incident:watch', { incidentId: incident.id }), RATE_LIMITED, 'another socket of the same civilian');
  assert.equal(await a.ask('incident:watch', { incidentId: incident.id }), RATE_LIMITED);

  // Three connects per 10 s for this civilian: two used above.
  assert.is(await connectOutcome(server, 'civilian', token), 'connected');
  assert.is(await connectOutcome(server, 'civilian', token), 'rate_limited', 'the fourth connect');
  assert.is(await connectOutcome(server, 'civilian', await server.token('civilian', uid('civ-'))), 'connected', 'another civilian');
  a.close();
  b.close();
  await eventually('first round', async () => (await server.app.sql`select version from incidents where id = ${incident.id}`)[0]?.version >= 2);
});

test('failed authentications per address, HTTP and sockets together: past the budget only failures are refused', async ({ auth: server }) => {
  const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImRpc3BhdGNoZXIiLCJleHAiOjk5OTk5OTk5OTl9.AAAA';
  assert.is((await http(server, 'GET', '/v1/incidents', { token: forged })).status, 401, 'failure 1 (HTTP)');
  assert.is(await connectOutcome(server, 'dispatch', forged), 'unauthorized', 'failure 2 (socket)');
  assert.is((await http(server, 'GET', '/v1/incidents')).status, 401, 'failure 3 (HTTP, no token)');

  const http429 = await http(server, 'GET', '/v1/incidents', { token: forged });
  assert.is(http429.status, 429, 'failure 4 (HTTP)');
  assert.is(http429.body.code, 'rate_limited');
  assert.ok(Number(http429.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.is(await connectOutcome(server, 'hero', 'garbage'), 'rate_limited', 'failure 5 (socket)');

  // Valid tokens from the same address still work, and a wrong role is still 403.
  const disp = await dispatcherToken(server);
  assert.is((await http(server, 'GET', '/v1/incidents', { token: disp })).status, 200);
  assert.is(await connectOutcome(server, 'dispatch', disp), 'connected');
  const civ = await server.token('civilian', uid('civ-'));
  assert.is((await http(server, 'GET', '/v1/incidents', { token: civ })).status, 403);
  assert.is(await connectOutcome(server, 'civilian', civ), 'connected');
});

test('connections per address: with the default budget a thousand at once all get in', async ({ wide: server }) => {
  const tokens = await Promise.all(Array.from({ length: 1000 }, () => server.token('civilian', uid('nat-'))));
  const settled = await Promise.allSettled(tokens.map((t) => connect(server, 'civilian', t, 30_000)));
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const refused = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason?.message ?? s.reason)] : []));
  for (const c of clients) c.close();
  assert.is(clients.length, 1000, `refused ${refused.length}: ${[...new Set(refused)].join(', ')}`);
});

test('connections per address: past a small budget the excess is refused before authentication', async ({ narrow: server }) => {
  const tokens = await Promise.all(Array.from({ length: 5 }, () => server.token('civilian', uid('c-'))));
  const clients = await Promise.all(tokens.map((t) => connect(server, 'civilian', t)));
  // Over budget even with no token at all: refused at the engine.io handshake.
  const sixth = await connectOutcome(server, 'civilian', await server.token('civilian', uid('c-')));
  assert.is.not(sixth, 'connected');
  assert.is.not(sixth, 'unauthorized');
  const raw = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5_000) });
  assert.is(raw.status, 403);
  assert.match(await raw.text(), /"message":"rate_limited"/);
  assert.is(await connectOutcome(server, 'civilian', undefined), sixth, 'a tokenless attempt is refused the same way, before its token is read');
  for (const c of clients) c.close();
});

test.run();
