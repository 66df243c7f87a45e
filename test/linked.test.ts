// Duplicate reports of one emergency (same kind, within DEDUPE_RADIUS_M, within
// DEDUPE_WINDOW_MS) are linked to one incident instead of pulling more heroes; the
// second civilian follows it like its reporter.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, http } from './helpers/clients.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, east, heroOnline, matchable, report } from './helpers/world.ts';

const test = suite<{ server: TestServer }>('linked reports');

test.before(async (ctx) => { ctx.server = await startServer({ DEDUPE_RADIUS_M: 100, OFFER_TIMEOUT_MS: 10_000 }); });
test.after(async (ctx) => { await ctx.server?.stop(); });
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

test('a second report of the same fire 50 m away is linked, and its reporter follows it', async ({ server }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const [aliceId, bobId] = [uid('alice-'), uid('bob-')];
  const alice = await server.token('civilian', aliceId);
  const bob = await server.token('civilian', bobId);
  const first = await report(server, alice, { kind: 'fire', severity: 'high', location: center });
  assert.is(first.status, 201);
  const bobSocket = await connect(server, 'civilian', bob);
  const second = await report(server, bob, { kind: 'fire', severity: 'high', location: east(center, 0.05) });
  assert.is(second.status, 200, 'linked, not created');
  assert.is(second.incident.id, first.incident.id);
  const rows = await server.app.sql`select id, co_reporters from incidents where reported_by = any(${[aliceId, bobId]})`;
  assert.is(rows.length, 1, 'one incident for one emergency');
  assert.equal(rows[0]!.co_reporters, [bobId]);

  // Bob reads it, watches it, and is told when a hero is assigned.
  assert.is((await http(server, 'GET', `/v1/incidents/${first.incident.id}`, { token: bob })).status, 200);
  assert.equal((await bobSocket.ask('incident:watch', { incidentId: first.incident.id })).ok, true);
  const offer = await hero.client.next('offer', (o) => o.incident.id === first.incident.id);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: first.incident.id });
  const status = await bobSocket.next('incident:status', (s) => s.incidentId === first.incident.id && s.state === 'assigned');
  assert.equal(status.heroes.map((h: { id: string }) => h.id), [hero.id]);
  assert.is(hero.client.all('offer').length, 1, 'the duplicate pulled no second hero');
  // Only the original reporter (or a dispatcher) may cancel it.
  assert.is((await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: bob, body: { reason: 'mine' } })).status, 403);
  closeAll(hero, bobSocket);
});

test('another kind, or the same kind 300 m away, is another incident', async ({ server }) => {
  const center = area();
  const civ = await server.token('civilian', uid('c-'));
  const fire = await report(server, civ, { kind: 'fire', severity: 'low', location: center });
  const crime = await report(server, await server.token('civilian', uid('c-')), { kind: 'crime', severity: 'low', location: center });
  const farFire = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'low', location: east(center, 0.3) });
  assert.equal([fire.status, crime.status, farFire.status], [201, 201, 201]);
  assert.is(new Set([fire.incident.id, crime.incident.id, farFire.incident.id]).size, 3);
});

test('two reports of one emergency at the same instant still make one incident', async ({ server }) => {
  const center = area();
  const answers = await Promise.all(Array.from({ length: 6 }, async () =>
    report(server, await server.token('civilian', uid('c-')), { kind: 'accident', severity: 'medium', location: center })));
  assert.is(new Set(answers.map((a) => a.incident.id)).size, 1);
  assert.equal(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 201]);
});

test.run();
