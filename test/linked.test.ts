// Duplicate reports of one emergency (same kind, within DEDUPE_RADIUS_M, within
// DEDUPE_WINDOW_MS) are linked to one incident instead of pulling more heroes; the
// second civilian follows it like its reporter, without learning who that is. A report
// asking for heroes the incident has no slot for is never linked. (The severity story
// is in linked-severity.test.ts.)
import * as assert from 'uvu/assert';
import { slotsCover } from '../server/services/report.service.ts';
import { connect, http } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, east, heroOnline, matchable, report } from './helpers/world.ts';
import { HIDDEN } from '../shared/domain.ts';

const test = serverSuite('linked reports', { DEDUPE_RADIUS_M: 100, OFFER_TIMEOUT_MS: 10_000 });

test('a second report of the same fire 50 m away is linked, and its reporter follows it', async ({ server }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  // A second free hero nearby: had the duplicate made a second incident, its first
  // round (run right after its commit) would have offered this hero.
  const spare = await heroOnline(server, center, 0.6);
  await matchable(server, [hero, spare]);
  const [aliceId, bobId] = [uid('alice-'), uid('bob-')];
  const alice = await server.token('civilian', aliceId);
  const bob = await server.token('civilian', bobId);
  // Medium: one hero per round, so the first incident's round offers exactly one of them.
  const first = await report(server, alice, { kind: 'fire', severity: 'medium', location: center });
  assert.is(first.status, 201);
  const bobSocket = await connect(server, 'civilian', bob);
  const second = await report(server, bob, { kind: 'fire', severity: 'medium', location: east(center, 0.05) });
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
  const offered = await server.app.sql`select hero_id, incident_id from offers where hero_id = any(${[hero.id, spare.id]})`;
  assert.equal(offered.map((o) => [o.hero_id, o.incident_id]), [[hero.id, first.incident.id]], 'the duplicate pulled no second hero');
  // Bob's cancel withdraws only his own report: Alice's stands, and so does the hero.
  const cancel = await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: bob, body: { reason: 'mine' } });
  assert.is(cancel.status, 200, JSON.stringify(cancel.body));
  assert.is(cancel.body.state, 'assigned');
  assert.is(cancel.body.reports, 1);
  assert.is(cancel.body.reportedBy, HIDDEN);
  const again = await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: bob, body: { reason: 'mine' } });
  assert.is(again.status, 409, 'his report is already withdrawn');
  const stranger = await server.token('civilian', uid('eve-'));
  assert.is((await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: stranger, body: { reason: 'x' } })).status, 403);
  const [row] = await server.app.sql`select state from incidents where id = ${first.incident.id}`;
  assert.is(row!.state, 'assigned');
  closeAll(hero, spare, bobSocket);
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

test('a linked civilian reads and watches the incident without the first reporter\'s identity', async ({ server }) => {
  const center = area();
  const [aliceId, bobId] = [uid('alice-'), uid('bob-')];
  const [alice, bob] = [await server.token('civilian', aliceId), await server.token('civilian', bobId)];
  const first = await report(server, alice, { kind: 'crime', severity: 'medium', location: center, description: 'window smashed' });
  assert.is(first.status, 201);
  const bobKey = uid('key-bob-');
  const second = await report(server, bob, { kind: 'crime', severity: 'high', location: east(center, 0.04), description: 'they have a knife' }, bobKey);
  assert.is(second.status, 200);
  assert.is(second.incident.id, first.incident.id);
  const id = first.incident.id;
  const leaks = (what: string, body: unknown) => {
    const text = JSON.stringify(body);
    assert.not.ok(text.includes(aliceId), `${what} names alice: ${text}`);
  };
  leaks('the link answer', second.incident);
  assert.is(second.incident.reportedBy, HIDDEN);

  const read = await http(server, 'GET', `/v1/incidents/${id}`, { token: bob });
  assert.is(read.status, 200);
  leaks('GET incident', read.body);
  assert.equal([read.body.reportedBy, read.body.severity, read.body.reports, read.body.description], [HIDDEN, 'high', 2, 'window smashed']);

  const trail = await http(server, 'GET', `/v1/incidents/${id}/events`, { token: bob });
  assert.is(trail.status, 200);
  leaks('GET events', trail.body);
  const types = trail.body.items.map((e: { type: string }) => e.type);
  assert.equal(types.slice(0, 1), ['REPORTED']);
  const linked = trail.body.items.find((e: { type: string }) => e.type === 'LINKED');
  // The emergency facts stay; his own report is his to see in full.
  assert.equal(linked.data, { civilianId: bobId, severity: 'high', description: 'they have a knife', key: bobKey });
  assert.is(linked.actor, `civilian:${bobId}`);
  const reported = trail.body.items[0];
  assert.equal([reported.actor, reported.data.reporter, reported.data.severity], [`civilian:${HIDDEN}`, HIDDEN, 'medium']);

  const socket = await connect(server, 'civilian', bob);
  const watched = await socket.ask('incident:watch', { incidentId: id });
  assert.is(watched.ok, true);
  leaks('the watch ack', watched);
  assert.is(watched.incident.reportedBy, HIDDEN);

  // Alice sees her own incident whole, but not who Bob is.
  const aliceTrail = await http(server, 'GET', `/v1/incidents/${id}/events`, { token: alice });
  const text = JSON.stringify(aliceTrail.body);
  assert.not.ok(text.includes(bobId) || text.includes(bobKey), text);
  assert.is((await http(server, 'GET', `/v1/incidents/${id}`, { token: alice })).body.reportedBy, aliceId);
  // A dispatcher sees everyone.
  const full = await http(server, 'GET', `/v1/incidents/${id}/events`, { token: await dispatcherToken(server) });
  const all = JSON.stringify(full.body);
  for (const s of [aliceId, bobId, bobKey]) assert.ok(all.includes(s), s);
  assert.is((await http(server, 'GET', `/v1/incidents/${id}`, { token: await dispatcherToken(server) })).body.reportedBy, aliceId);
  closeAll(socket);
});

test('never linked: a report asking for a skill the incident has no slot for is its own incident', async ({ server }) => {
  const center = area();
  const civ = async () => server.token('civilian', uid('c-'));
  const anyHero = await report(server, await civ(), { kind: 'medical', severity: 'high', location: center });
  assert.is(anyHero.status, 201);
  // Asks for a medic; the incident under way only has a slot for any hero: split.
  const medic = await report(server, await civ(), { kind: 'medical', severity: 'high', location: east(center, 0.03), needs: [{ skill: 'medic', count: 1 }] });
  assert.is(medic.status, 201, JSON.stringify(medic.incident));
  assert.is.not(medic.incident.id, anyHero.incident.id);
  // A report asking for any hero is covered by a medic's slot: linked (to the older one).
  const plain = await report(server, await civ(), { kind: 'medical', severity: 'low', location: east(center, 0.02) });
  assert.is(plain.status, 200);
  assert.is(plain.incident.id, anyHero.incident.id);
  const medic2 = await report(server, await civ(), { kind: 'medical', severity: 'low', location: east(center, 0.05), needs: [{ skill: 'medic', count: 1 }] });
  assert.is(medic2.status, 201, 'still no medic slot on the oldest incident nearby');
  const reports = await server.app.sql`select id, jsonb_array_length(snapshot->'context'->'reports')::int as n from incidents
    where id = any(${[anyHero.incident.id, medic.incident.id, medic2.incident.id]})`;
  assert.equal(Object.fromEntries(reports.map((r) => [r.id, r.n])), { [anyHero.incident.id]: 2, [medic.incident.id]: 1, [medic2.incident.id]: 1 });
});

test('distances too small for float8 still compare: a report a hair from another links, never 500', async ({ server }) => {
  // Found by the HTTP fuzz test: Postgres raises "value out of range: underflow" where a
  // float8 product underflows to zero, as the haversine's squares of tiny angles did.
  const [first, second] = [uid('civ-'), uid('civ-')];
  const at = { lat: 0, lng: 0 };
  const a = await report(server, await server.token('civilian', first), { kind: 'disaster', severity: 'low', location: at });
  assert.is(a.status, 201, JSON.stringify(a.incident));
  const b = await report(server, await server.token('civilian', second), { kind: 'disaster', severity: 'low', location: { lat: 2.4e-198, lng: -2.9e-148 } });
  assert.is(b.status, 200, JSON.stringify(b.incident));
  assert.is(b.incident.id, a.incident.id);
  // Subnormal coordinates: radians() of them underflows too.
  const c = await report(server, await server.token('civilian', uid('civ-')), { kind: 'disaster', severity: 'low', location: { lat: 1e-310, lng: 5e-324 } });
  assert.is(c.status, 200, JSON.stringify(c.incident));
  assert.is(c.incident.id, a.incident.id);
});

test('slotsCover: skilled needs take slots of their skill, the rest any slot left', () => {
  const slots = [{ skill: 'medic' }, { skill: null }];
  assert.ok(slotsCover(slots, [{ skill: null, count: 1 }]));
  assert.ok(slotsCover(slots, [{ skill: 'medic', count: 1 }, { skill: null, count: 1 }]));
  assert.ok(slotsCover(slots, [{ skill: null, count: 2 }]));
  assert.not.ok(slotsCover(slots, [{ skill: null, count: 3 }]), 'more heroes than slots');
  assert.not.ok(slotsCover(slots, [{ skill: 'medic', count: 2 }]), 'an any-hero slot does not promise a medic');
  assert.not.ok(slotsCover(slots, [{ skill: 'fire', count: 1 }]));
  assert.not.ok(slotsCover([{ skill: null }], [{ skill: 'medic', count: 1 }]));
});

test.run();
