// The whole life of an incident through the real server: report → offer → accept →
// en route → on scene → resolved, seen by the civilian and a dispatcher; plus the
// unhappy paths of one dispatch: decline, expiry and cancel.
import * as assert from 'uvu/assert';
import { connect, eventually, http } from './helpers/clients.ts';
import { civilianOrder, dispatcherOrder } from './helpers/push-order.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, cancelByDispatcher, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

const test = serverSuite('lifecycle', { OFFER_TIMEOUT_MS: 1_000, DISPATCH_RETRY_MS: 200 });

test('happy path: report to resolved, civilian and dispatcher see every change', async ({ server }) => {
  const center = area();
  const civilianId = uid('civ-');
  const civToken = await server.token('civilian', civilianId);
  const civilian = await connect(server, 'civilian', civToken);
  const dispatcher = await connect(server, 'dispatch', await server.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  const hero = await heroOnline(server, center, 0.8);
  await matchable(server, [hero]);

  const { status, incident } = await report(server, civToken, { kind: 'fire', severity: 'high', location: center, description: 'kitchen fire' });
  assert.is(status, 201);
  assert.is(incident.state, 'reported');
  assert.is(incident.reportedBy, civilianId);

  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  // The offer carries the row's deadline, OFFER_TIMEOUT_MS after the round that made it
  // (within a second: the round's transaction start versus its clock read).
  const [offerRow] = await server.app.sql`select created_at, expires_at from offers where id = ${offer.offerId}`;
  assert.is(offer.expiresAt, offerRow!.expires_at.getTime());
  const lifetime = offerRow!.expires_at.getTime() - offerRow!.created_at.getTime();
  assert.ok(Math.abs(lifetime - server.app.config.OFFER_TIMEOUT_MS) < 1_000, `offer lifetime ${lifetime} ms`);
  assert.ok(Math.abs(offer.distanceKm - 0.8) < 0.05, `distance ${offer.distanceKm}`);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state }), { ok: true, state });
  }

  const expected = ['reported', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved'];
  for (const state of expected) {
    await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === state);
    await dispatcher.next('incident', (i) => i.id === incident.id && i.state === state);
  }
  const resolved = await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'resolved');
  assert.equal(resolved.heroes.map((h: { id: string }) => h.id), [hero.id]);
  const assigned = await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'assigned');
  assert.is(assigned.heroes[0].name, hero.name);
  // Every change reached both, once each and in the order it was committed.
  assert.equal(dispatcherOrder(dispatcher, incident.id), [1, 2, 3, 4, 5, 6]);
  assert.equal(civilianOrder(civilian, incident.id), expected);

  const read = await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: civToken });
  assert.is(read.body.state, 'resolved');
  assert.equal(read.body.assignments.map((a: { heroId: string; state: string }) => [a.heroId, a.state]), [[hero.id, 'completed']]);
  const trail = await http(server, 'GET', `/v1/incidents/${incident.id}/events`, { token: civToken });
  assert.equal(trail.body.items.map((e: { to: string }) => e.to), expected);
  assert.equal(trail.body.items.map((e: { seq: number }) => e.seq), [1, 2, 3, 4, 5, 6]);

  // The hero is free again and a repeat of a won command changes nothing.
  const me = await http(server, 'GET', `/v1/heroes/${hero.id}`, { token: hero.token });
  assert.is(me.body.status, 'available');
  assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state: 'resolved' }), { ok: true, state: 'resolved' });
  closeAll(civilian, dispatcher, hero);
});

test('a declined offer goes to the next hero', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const near = await heroOnline(server, center, 0.3);
  const far = await heroOnline(server, center, 1.5);
  await matchable(server, [near, far]);
  const { incident } = await report(server, civToken, { kind: 'crime', severity: 'low', location: center });
  const first = await near.client.next('offer', (o) => o.incident.id === incident.id);
  assert.is(far.client.all('offer').length, 0, 'low severity offers one hero at a time, nearest first');
  assert.equal(await near.client.ask('offer:decline', { offerId: first.offerId }), { ok: true });
  const second = await far.client.next('offer', (o) => o.incident.id === incident.id);
  assert.equal(await far.client.ask('offer:accept', { offerId: second.offerId }), { ok: true, incidentId: incident.id });
  // The decliner is not asked again for this incident.
  assert.is(near.client.all('offer').filter((o) => o.incident.id === incident.id).length, 1);
  closeAll(near, far);
});

test('an expired offer is re-offered to another hero', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const sleepy = await heroOnline(server, center, 0.2);
  const awake = await heroOnline(server, center, 2);
  await matchable(server, [sleepy, awake]);
  const { incident } = await report(server, civToken, { kind: 'medical', severity: 'medium', location: center });
  const ignored = await sleepy.client.next('offer', (o) => o.incident.id === incident.id);
  const withdrawn = await sleepy.client.next('offer:withdrawn', (w) => w.offerId === ignored.offerId, 5_000);
  assert.is(withdrawn.reason, 'expired');
  assert.equal(await sleepy.client.ask('offer:accept', { offerId: ignored.offerId }), { ok: false, reason: 'expired' });
  const next = await awake.client.next('offer', (o) => o.incident.id === incident.id, 5_000);
  assert.equal(await awake.client.ask('offer:accept', { offerId: next.offerId }), { ok: true, incidentId: incident.id });
  const [row] = await server.app.sql`select state from offers where id = ${ignored.offerId}`;
  assert.is(row?.state, 'expired');
  closeAll(sleepy, awake);
});

test('cancel withdraws every pending offer and frees the heroes', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const heroes = await Promise.all([0.2, 0.4, 0.6].map((km) => heroOnline(server, center, km)));
  await matchable(server, heroes);
  const { incident } = await report(server, civToken, { kind: 'accident', severity: 'critical', location: center });
  const offers = await Promise.all(heroes.map((h) => h.client.next('offer', (o) => o.incident.id === incident.id)));
  const cancelled = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: civToken, body: { reason: 'false alarm' } });
  assert.is(cancelled.status, 200);
  assert.is(cancelled.body.state, 'cancelled');
  for (const [i, hero] of heroes.entries()) {
    const w = await hero.client.next('offer:withdrawn', (p) => p.offerId === offers[i].offerId);
    assert.is(w.reason, 'cancelled');
    assert.equal(await hero.client.ask('offer:accept', { offerId: offers[i].offerId }), { ok: false, reason: 'withdrawn' });
  }
  const pending = await server.app.sql`select count(*)::int as n from offers where incident_id = ${incident.id} and state = 'pending'`;
  assert.is(pending[0]?.n, 0);
  const again = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: civToken, body: { reason: 'twice' } });
  assert.is(again.status, 409, 'a final incident cannot be cancelled again');
  closeAll(...heroes);
});

test('nobody in range: escalated, dispatchers alerted, a hand assignment reaches the hero', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const dispatcher = await connect(server, 'dispatch', await server.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  const { incident } = await report(server, civToken, { kind: 'disaster', severity: 'critical', location: center });
  const alert = await dispatcher.next('alert', (a) => a.incidentId === incident.id, 8_000);
  assert.is(alert.type, 'no_hero_found');
  assert.match(alert.detail, /after 3 rounds/);
  await dispatcher.next('incident', (i) => i.id === incident.id && i.state === 'escalated');
  // The deadline covers the slower escalated retry, so the sweeper does not mistake a
  // freshly escalated incident for a stuck one: measured from the escalation's own
  // audit row, not from the test's clock.
  const [row] = await server.app.sql`
    select i.deadline_at, e.at as escalated_at from incidents i
      join incident_events e on e.incident_id = i.id and e.to_state = 'escalated'
     where i.id = ${incident.id} order by e.seq limit 1`;
  const lead = row!.deadline_at.getTime() - row!.escalated_at.getTime();
  assert.ok(lead >= server.app.config.ESCALATED_RETRY_MS, `deadline only ${lead} ms after the escalation`);

  // A hero far away (off the map of automatic dispatch) is sent by hand.
  const hero = await heroOnline(server, center, 400);
  const res = await http(server, 'POST', `/v1/incidents/${incident.id}/assign`, {
    token: await server.token('dispatcher', uid('d-')), body: { heroId: hero.id },
  });
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.is(res.body.state, 'assigned');
  const session = await hero.client.next('session', (s) => s.assignment?.incidentId === incident.id);
  assert.is(session.assignment.incident.state, 'assigned');
  assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state: 'en_route' }), { ok: true, state: 'en_route' });
  const trail = await http(server, 'GET', `/v1/incidents/${incident.id}/events`, { token: civToken });
  assert.ok(trail.body.items.some((e: { type: string; actor: string }) => e.type === 'ASSIGN' && e.actor.startsWith('dispatcher:')));
  await dispatcher.next('incident', (i) => i.id === incident.id && i.state === 'en_route');
  // Rounds, escalation, the hand assignment and progress reached the dispatcher in order.
  const versions = dispatcherOrder(dispatcher, incident.id);
  assert.is(versions.at(-1), trail.body.items.at(-1).seq);
  closeAll(dispatcher, hero);
});

test('dispatchers get batched hero positions and statuses', async ({ server }) => {
  const center = area();
  const dispatcher = await connect(server, 'dispatch', await server.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  const hero = await heroOnline(server, center, 1);
  const seen = await dispatcher.next('heroes', (batch) => batch.some((h: { id: string; location?: unknown }) => h.id === hero.id && h.location), 5_000);
  const entry = seen.find((h: { id: string }) => h.id === hero.id);
  assert.is(entry.status, 'available');
  assert.ok(Math.abs(entry.location.lat - center.lat) < 1e-4);
  assert.type(entry.lastSeenAt, 'number');
  // A later dispatcher's snapshot lists the hero with its live position.
  const late = await connect(server, 'dispatch', await server.token('dispatcher', uid('d-')));
  const snapshot = await late.next('snapshot');
  const listed = snapshot.heroes.find((h: { id: string }) => h.id === hero.id);
  assert.is(listed.onDuty, true);
  assert.ok(listed.location && listed.lastSeenAt, JSON.stringify(listed));
  closeAll(dispatcher, late, hero);
});

test.run();

// Escalated retries come quickly here, so a hero may be offered the incident again.
const retry = serverSuite('lifecycle: a hero who let an offer expire', { OFFER_TIMEOUT_MS: 1_000, DISPATCH_RETRY_MS: 200, ESCALATED_RETRY_MS: 500 });

retry('is not offered the incident again while it is dispatching; once it has escalated, they are', async ({ server }) => {
  const center = area();
  const sleepy = await heroOnline(server, center, 0.2);
  await matchable(server, [sleepy]);
  const { incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'medical', severity: 'medium', location: center });
  const first = await sleepy.client.next('offer', (o) => o.incident.id === incident.id);
  await sleepy.client.next('offer:withdrawn', (w) => w.offerId === first.offerId && w.reason === 'expired', 5_000);
  // The rounds after the expiry find nobody (the only hero near let this one expire),
  // and the incident escalates to dispatchers.
  await eventually('escalated', async () => (await server.app.sql`select state from incidents where id = ${incident.id}`)[0]?.state === 'escalated', 15_000);
  const rounds = await server.app.sql<{ to_state: string; offered: string[] }[]>`
    select to_state, data->'offered' as offered from incident_events where incident_id = ${incident.id} and type = 'ROUND' order by seq`;
  assert.ok(rounds.length >= 2, JSON.stringify(rounds));
  assert.equal(rounds[0]!.offered, [sleepy.id], 'the first round offered the hero');
  for (const r of rounds.slice(1)) assert.equal(r.offered, [], `a round before escalation offered nobody: ${JSON.stringify(rounds)}`);
  // Escalated, the next retry may ask the hero again: a late answer beats none.
  const again = await sleepy.client.next('offer', (o) => o.incident.id === incident.id && o.offerId !== first.offerId, 10_000);
  assert.ok(again.offerId);
  await cancelByDispatcher(server, incident.id);
  closeAll(sleepy);
});

retry.run();
