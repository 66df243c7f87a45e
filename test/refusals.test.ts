// Every refusal reason of the `/hero` contract (and the civilian's `incident:watch`),
// produced through real sockets: the exact ack, and nothing changed in the database.
import * as assert from 'uvu/assert';
import { connect, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

type Ctx = { server: TestServer };

/** What a refusal must not touch: the incident row, its assignments and its offers. */
async function fingerprint(server: TestServer, incidentId: string) {
  const sql = server.app.sql;
  const [incident] = await sql`select state, version from incidents where id = ${incidentId}`;
  const assignments = await sql`select id::text, hero_id, slot, state from assignments where incident_id = ${incidentId} order by id`;
  const offers = await sql`select id, hero_id, state, reason from offers where incident_id = ${incidentId} order by id`;
  return JSON.parse(JSON.stringify({ incident, assignments, offers }));
}

async function totals(server: TestServer) {
  const [row] = await server.app.sql`select (select count(*) from incidents)::int as incidents,
    (select count(*) from offers)::int as offers, (select count(*) from assignments)::int as assignments`;
  return { ...row };
}

/** One hero on duty in a fresh area, with an offer for a fresh incident of `severity`. */
async function offered(server: TestServer, severity: 'critical' | 'medium', kms: number[]) {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const heroes = await Promise.all(kms.map((km) => heroOnline(server, center, km)));
  await matchable(server, heroes);
  const { incident } = await report(server, civToken, { kind: 'accident', severity, location: center });
  const offers = await Promise.all(heroes.map((h) => h.client.next('offer', (o) => o.incident.id === incident.id)));
  return { center, civToken, heroes, incident, offers };
}

/** A hero that holds the (only) slot of a fresh incident. */
async function holding(server: TestServer): Promise<{ hero: OnlineHero; incidentId: string; civToken: string }> {
  const { heroes: [hero], incident, offers: [offer], civToken } = await offered(server, 'medium', [0.4]);
  assert.equal(await hero!.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  return { hero: hero!, incidentId: incident.id, civToken };
}

const test = serverSuite<Ctx>('refusals', { OFFER_BATCH_CRITICAL: 2, OFFER_TIMEOUT_MS: 10_000, DISPATCH_RETRY_MS: 200 });

test('taken: the second accept of a critical batch loses; a repeated won accept is ok again', async ({ server }) => {
  const { heroes: [a, b], incident, offers: [offerA, offerB] } = await offered(server, 'critical', [0.3, 0.6]);
  assert.is.not(offerA.offerId, offerB.offerId);
  assert.equal(await a!.client.ask('offer:accept', { offerId: offerA.offerId }), { ok: true, incidentId: incident.id });
  const before = await fingerprint(server, incident.id);
  assert.equal(await b!.client.ask('offer:accept', { offerId: offerB.offerId }), { ok: false, reason: 'taken' });
  assert.equal(await fingerprint(server, incident.id), before);
  assert.equal(before.assignments.map((r: { hero_id: string; state: string }) => [r.hero_id, r.state]), [[a!.id, 'active']]);
  const w = await b!.client.next('offer:withdrawn', (p) => p.offerId === offerB.offerId);
  assert.is(w.reason, 'taken');

  // Repeating the won accept: same answer, nothing new.
  assert.equal(await a!.client.ask('offer:accept', { offerId: offerA.offerId }), { ok: true, incidentId: incident.id });
  assert.equal(await fingerprint(server, incident.id), before);
  closeAll(a!, b!);
});

test('withdrawn: the reporter cancels while the offer is pending', async ({ server }) => {
  const { heroes: [hero], incident, offers: [offer], civToken } = await offered(server, 'medium', [0.5]);
  const cancelled = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: civToken, body: { reason: 'sorted' } });
  assert.is(cancelled.status, 200);
  await hero!.client.next('offer:withdrawn', (p) => p.offerId === offer.offerId);
  const before = await fingerprint(server, incident.id);
  assert.equal(await hero!.client.ask('offer:accept', { offerId: offer.offerId }), { ok: false, reason: 'withdrawn' });
  assert.equal(await fingerprint(server, incident.id), before);
  assert.is(before.incident.state, 'cancelled');
  assert.is(before.assignments.length, 0);
  closeAll(hero!);
});

test('not_found: unknown offer, another hero\'s offer, someone else\'s incident', async ({ server }) => {
  const { heroes: [a, b], incident, offers: [offerA, offerB] } = await offered(server, 'critical', [0.2, 0.7]);
  const before = await totals(server);
  const mine = await fingerprint(server, incident.id);
  assert.equal(await a!.client.ask('offer:accept', { offerId: uid('nope-') }), { ok: false, reason: 'not_found' });
  assert.equal(await a!.client.ask('offer:decline', { offerId: uid('nope-') }), { ok: false, reason: 'not_found' });
  assert.equal(await a!.client.ask('offer:accept', { offerId: offerB.offerId }), { ok: false, reason: 'not_found' });
  assert.equal(await b!.client.ask('offer:decline', { offerId: offerA.offerId }), { ok: false, reason: 'not_found' });
  assert.equal(await fingerprint(server, incident.id), mine, 'nothing changed for the incident');
  assert.equal(await totals(server), before);

  // A holds it now; B (whose offer was withdrawn) may not move it.
  assert.equal(await a!.client.ask('offer:accept', { offerId: offerA.offerId }), { ok: true, incidentId: incident.id });
  const held = await fingerprint(server, incident.id);
  assert.equal(await b!.client.ask('incident:progress', { incidentId: incident.id, state: 'en_route' }), { ok: false, reason: 'not_found' });
  assert.equal(await b!.client.ask('incident:progress', { incidentId: uid('inc-'), state: 'en_route' }), { ok: false, reason: 'not_found' });
  assert.equal(await fingerprint(server, incident.id), held);
  closeAll(a!, b!);
});

test('incident:watch: someone else\'s incident is not_found; your own answers the incident', async ({ server }) => {
  const center = area();
  const ownerToken = await server.token('civilian', uid('civ-'));
  const { status, incident } = await report(server, ownerToken, { kind: 'other', severity: 'low', location: center });
  assert.is(status, 201);
  const owner = await connect(server, 'civilian', ownerToken);
  const stranger = await connect(server, 'civilian', await server.token('civilian', uid('civ-')));
  assert.equal(await stranger.ask('incident:watch', { incidentId: incident.id }), { ok: false, reason: 'not_found' });
  assert.equal(await stranger.ask('incident:watch', { incidentId: uid('inc-') }), { ok: false, reason: 'not_found' });
  const own = await owner.ask('incident:watch', { incidentId: incident.id });
  assert.is(own.ok, true);
  assert.is(own.incident.id, incident.id);
  assert.is(own.incident.reportedBy, incident.reportedBy);
  closeAll(owner, stranger);
});

test('busy: a hero holding an assignment cannot go off duty', async ({ server }) => {
  const { hero, incidentId } = await holding(server);
  const before = await fingerprint(server, incidentId);
  assert.equal(await hero.client.ask('duty', { onDuty: false }), { ok: false, reason: 'busy' });
  const [row] = await server.app.sql`select on_duty, status from heroes where id = ${hero.id}`;
  assert.equal({ ...row }, { on_duty: true, status: 'assigned' });
  assert.equal(await fingerprint(server, incidentId), before);
  // Going on duty again is harmless.
  assert.equal(await hero.client.ask('duty', { onDuty: true }), { ok: true });
  closeAll(hero);
});

test('invalid_transition: resolved straight from assigned; accept after your own decline', async ({ server }) => {
  const { hero, incidentId } = await holding(server);
  const before = await fingerprint(server, incidentId);
  assert.equal(await hero.client.ask('incident:progress', { incidentId, state: 'resolved' }), { ok: false, reason: 'invalid_transition' });
  assert.equal(await fingerprint(server, incidentId), before);
  assert.is(before.incident.state, 'assigned');
  closeAll(hero);

  // Two heroes on a critical incident: one declines, then tries to accept.
  const { heroes: [a, b], incident, offers: [offerA] } = await offered(server, 'critical', [0.3, 0.6]);
  assert.equal(await a!.client.ask('offer:decline', { offerId: offerA.offerId }), { ok: true });
  assert.equal(await a!.client.ask('offer:decline', { offerId: offerA.offerId }), { ok: true }, 'a repeated decline is ok');
  const declined = await fingerprint(server, incident.id);
  assert.equal(await a!.client.ask('offer:accept', { offerId: offerA.offerId }), { ok: false, reason: 'invalid_transition' });
  assert.equal(await fingerprint(server, incident.id), declined);
  const [offer] = await server.app.sql`select state from offers where id = ${offerA.offerId}`;
  assert.is(offer?.state, 'declined');
  assert.is(declined.assignments.length, 0);
  closeAll(a!, b!);
});

test('released: reassigned by a dispatcher, the hero can no longer move the incident', async ({ server }) => {
  const { hero, incidentId } = await holding(server);
  assert.equal(await hero.client.ask('incident:progress', { incidentId, state: 'en_route' }), { ok: true, state: 'en_route' });
  const res = await http(server, 'POST', `/v1/incidents/${incidentId}/reassign`, { token: await dispatcherToken(server), body: { reason: 'hero is slow' } });
  assert.is(res.status, 200, JSON.stringify(res.body));
  const released = await hero.client.next('assignment:released', (p) => p.incidentId === incidentId);
  assert.type(released.reason, 'string');

  const assignments = async () => (await server.app.sql`select state from assignments where incident_id = ${incidentId} and hero_id = ${hero.id}`).map((r) => r.state);
  assert.equal(await assignments(), ['released']);
  assert.equal(await hero.client.ask('incident:progress', { incidentId, state: 'on_scene' }), { ok: false, reason: 'released' });
  assert.equal(await hero.client.ask('incident:progress', { incidentId, state: 'en_route' }), { ok: false, reason: 'released' });
  assert.equal(await assignments(), ['released']);
  const [row] = await server.app.sql`select state from incidents where id = ${incidentId}`;
  assert.ok(['dispatching', 'escalated'].includes(row?.state), `back to dispatch, not moved by the hero: ${row?.state}`);
  const trail = await server.app.sql`select actor from incident_events where incident_id = ${incidentId} and seq > 4 and actor = ${`hero:${hero.id}`}`;
  assert.is(trail.length, 0, 'no event from the released hero after the release');
  closeAll(hero);
});

test('invalid: a payload failing the schema carries field errors and changes nothing', async ({ server }) => {
  const { heroes: [hero], incident, offers: [offer] } = await offered(server, 'medium', [0.5]);
  const before = await fingerprint(server, incident.id);
  const cases: [string, unknown][] = [
    ['offer:accept', { offerId: 42 }], ['offer:decline', { offerId: '' }], ['duty', { onDuty: 'no' }],
    ['incident:progress', { incidentId: incident.id, state: 'assigned' }], ['offer:accept', { offerId: offer.offerId, extra: 1 }],
  ];
  for (const [event, payload] of cases) {
    const ack = await hero!.client.ask(event, payload);
    assert.is(ack.ok, false, event);
    assert.is(ack.reason, 'invalid', event);
    assert.ok(Array.isArray(ack.errors) && ack.errors.length > 0, `${event}: errors`);
    for (const e of ack.errors) { assert.type(e.path, 'string'); assert.type(e.message, 'string'); assert.ok(e.message.length > 0); }
  }
  assert.equal(await fingerprint(server, incident.id), before);
  const [row] = await server.app.sql`select on_duty from heroes where id = ${hero!.id}`;
  assert.is(row?.on_duty, true);
  // The offer is still good.
  assert.equal(await hero!.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  closeAll(hero!);
});

test.run();

// Expiry needs a short offer timeout; the rest of the file wants a long one.
const expiry = serverSuite<Ctx>('refusals: expiry', { OFFER_TIMEOUT_MS: 1_000, DISPATCH_RETRY_MS: 200 });

expiry('expired: an accept after the offer ran out', async ({ server }) => {
  const { heroes: [hero], incident, offers: [offer] } = await offered(server, 'medium', [0.5]);
  const w = await hero!.client.next('offer:withdrawn', (p) => p.offerId === offer.offerId, 5_000);
  assert.is(w.reason, 'expired');
  assert.equal(await hero!.client.ask('offer:accept', { offerId: offer.offerId }), { ok: false, reason: 'expired' });
  const [row] = await server.app.sql`select state from offers where id = ${offer.offerId}`;
  assert.is(row?.state, 'expired');
  const active = await server.app.sql`select 1 from assignments where incident_id = ${incident.id} or hero_id = ${hero!.id}`;
  assert.is(active.length, 0, 'no assignment from an expired offer');
  // Declining it now is refused the same way.
  assert.equal(await hero!.client.ask('offer:decline', { offerId: offer.offerId }), { ok: false, reason: 'expired' });
  closeAll(hero!);
});

expiry.run();
