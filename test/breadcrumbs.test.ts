// Breadcrumbs (issue 15) through the real server, with real hero clients pinging
// `location`: a hero's positions are kept while they hold an offer or an assignment
// and never while merely available; the sampling rule (first point, then every
// BREADCRUMB_EVERY_MS or BREADCRUMB_MIN_M metres); and the ping path never waits for
// Postgres: with the table locked, pings still move the hero in Redis, the points wait
// in a bounded buffer (the oldest dropped and counted) and are written once the lock
// goes. Proofs of absence use a later point as a barrier: the buffer is first in,
// first out, so once a later point is in Postgres, an earlier kept one would be too.
import postgres from 'postgres';
import * as assert from 'uvu/assert';
import { BreadcrumbSampler } from '../server/geo/breadcrumbs.sampler.ts';
import { breadcrumbDay, ensureBreadcrumbDays, insertBreadcrumbs, pruneBreadcrumbs } from '../server/store/breadcrumbs.store.ts';
import { createLogger } from '../server/log.ts';
import { createMetrics } from '../server/metrics.ts';
import type { LatLng } from '../shared/types.ts';
import { eventually, http, sleep } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { crumbs, north, pingTo, untilCrumb, untilStatus } from './helpers/timeline-world.ts';
import { area, closeAll, dispatcherToken, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

const BUFFER_MAX = 5;
// Time never triggers a point here (10 min): only the first point and distance do.
const test = serverSuite('breadcrumbs', {
  BREADCRUMB_EVERY_MS: 600_000, BREADCRUMB_MIN_M: 50, BREADCRUMB_FLUSH_MS: 50, BREADCRUMB_BUFFER_MAX: BUFFER_MAX,
  // The locked insert below waits for its lock rather than timing out while the test holds it.
  DB_QUERY_TIMEOUT_MS: 30_000,
});

const lats = (list: { lat: number }[]) => list.map((p) => p.lat);

/** A hero online in a fresh area, offered a new incident there; returns both. */
async function offeredHero(server: TestServer, center: LatLng, hero?: OnlineHero) {
  const h = hero ?? await heroOnline(server, center, 0.5);
  await matchable(server, [h]);
  const civ = await server.token('civilian', uid('civ-'));
  const { status, incident } = await report(server, civ, { kind: 'other', severity: 'medium', location: center });
  assert.is(status, 201);
  const offer = await h.client.next('offer', (o) => o.incident.id === incident.id);
  await untilStatus(server, h.id, 'offered');
  return { hero: h, incident, offer };
}

async function assignedHero(server: TestServer, center: LatLng) {
  const { hero, incident, offer } = await offeredHero(server, center);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  await untilStatus(server, hero.id, 'assigned');
  return { hero, incident };
}

async function resolve(server: TestServer, hero: OnlineHero, incidentId: string) {
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId, state }), { ok: true, state });
  }
  await untilStatus(server, hero.id, 'available');
}

test('kept while the hero holds an offer or an assignment, not while available, and afresh for each holding', async ({ server }) => {
  const c = area();
  const hero = await heroOnline(server, c, 0.5);
  await matchable(server, [hero]);
  const idle = [north(c, 100), north(c, 300)];
  for (const p of idle) await pingTo(server, hero, p);

  const { incident, offer } = await offeredHero(server, c, hero);
  const whileOffered = north(c, 1_000);
  await pingTo(server, hero, whileOffered);
  await untilCrumb(server, hero.id, whileOffered);
  assert.equal(lats(await crumbs(server, hero.id)), [whileOffered.lat], 'the available pings before it were not kept');

  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  await untilStatus(server, hero.id, 'assigned');
  const whileAssigned = north(c, 1_200);
  await pingTo(server, hero, whileAssigned);
  await untilCrumb(server, hero.id, whileAssigned);

  await resolve(server, hero, incident.id);
  const afterwards = north(c, 2_000);
  await pingTo(server, hero, afterwards);

  // A new offer: its first ping is kept although it is only 10 m from the last point
  // kept (the hero was forgotten while available), and it is the barrier for `afterwards`.
  const next = await offeredHero(server, c, hero);
  const again = north(c, 1_210);
  await pingTo(server, hero, again);
  await untilCrumb(server, hero.id, again);
  assert.equal(lats(await crumbs(server, hero.id)), [whileOffered, whileAssigned, again].map((p) => p.lat));

  assert.equal(await hero.client.ask('offer:decline', { offerId: next.offer.offerId }), { ok: true });
  const cancel = await http(server, 'POST', `/v1/incidents/${next.incident.id}/cancel`, { token: await dispatcherToken(server), body: { reason: 'end of test' } });
  assert.is(cancel.status, 200);
  closeAll(hero);
});

test('the rule: the first point, then only after BREADCRUMB_MIN_M metres from the last one kept', async ({ server }) => {
  const c = area();
  const { hero, incident } = await assignedHero(server, c);
  // Metres north of c, in order; * marks the ones the rule keeps (50 m from the last kept).
  const walk = [0 /* first* */, 10, 40, 60 /* * */, 80, 100, 115 /* * */];
  for (const m of walk) await pingTo(server, hero, north(c, m));
  await untilCrumb(server, hero.id, north(c, 115));
  assert.equal(lats(await crumbs(server, hero.id)), [0, 60, 115].map((m) => north(c, m).lat));
  await resolve(server, hero, incident.id);
  closeAll(hero);
});

test('pings never wait for Postgres: with the table locked they still reach Redis; points wait, bounded, then land', async ({ server }) => {
  const c = area();
  const { hero, incident } = await assignedHero(server, c);
  await pingTo(server, hero, c);
  await untilCrumb(server, hero.id, c);
  const droppedBefore = (await server.app.metrics.breadcrumbsDropped.get()).values[0]?.value ?? 0;

  const { DATABASE_URL, DB_SCHEMA } = server.app.config;
  const locker = postgres(DATABASE_URL, { max: 1, onnotice: () => {}, connection: { search_path: DB_SCHEMA } });
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => { locked = r; });
  const holding = locker.begin(async (tx) => {
    await tx`lock table breadcrumbs in access exclusive mode`;
    locked();
    await held;
  });
  try {
    await isLocked;
    const path = Array.from({ length: 12 }, (_, k) => north(c, 100 * (k + 1)));
    await pingTo(server, hero, path[0]!);
    // The sampler's insert now waits for the lock...
    await eventually('an insert waiting for the breadcrumbs lock', async () => (await server.app.sql`
      select 1 from pg_locks l join pg_class r on r.oid = l.relation join pg_namespace n on n.oid = r.relnamespace
       where n.nspname = ${DB_SCHEMA} and r.relname = 'breadcrumbs' and not l.granted`).length > 0);
    // ...and every later ping still moves the hero in Redis (pingTo waits for that, bounded).
    for (const p of path.slice(1)) await pingTo(server, hero, p);
    const dropped = (await server.app.metrics.breadcrumbsDropped.get()).values[0]!.value - droppedBefore;
    assert.is(dropped, path.length - 1 - BUFFER_MAX, 'the buffer keeps the newest BREADCRUMB_BUFFER_MAX and counts the rest');
    release();
    await holding;
    await untilCrumb(server, hero.id, path.at(-1)!);
    // The batch stuck in the insert, then the newest BUFFER_MAX; the oldest waiting ones were dropped.
    assert.equal(lats(await crumbs(server, hero.id)), [c, path[0]!, ...path.slice(-BUFFER_MAX)].map((p) => p.lat));
  } finally {
    release();
    await holding.catch(() => {});
    await locker.end({ timeout: 1 });
  }
  await resolve(server, hero, incident.id);
  closeAll(hero);
});

test('the sampler forgets idle heroes, bounds its buffer, and flushes what is left on stop (real Postgres)', async ({ server }) => {
  const metrics = createMetrics();
  const sampler = new BreadcrumbSampler({
    sql: server.app.sql, log: createLogger('silent'), metrics, everyMs: 5_000, minM: 50, flushMs: 600_000, maxBuffered: 3,
  });
  const t0 = Date.now();
  const ids = [1, 2, 3, 4, 5].map(() => uid('h-'));
  ids.forEach((id, k) => sampler.sample(id, t0 + k, 10, 20));
  assert.is(sampler.buffered, 3, 'bounded');
  assert.is((await metrics.breadcrumbsDropped.get()).values[0]!.value, 2);
  assert.is(sampler.remembered, 5);
  // Two minutes later one hero pings again: the others, idle since, are forgotten.
  sampler.sample(ids[0]!, t0 + 121_000, 10, 20);
  assert.is(sampler.remembered, 1);
  assert.is(sampler.buffered, 3);
  assert.is((await metrics.breadcrumbsDropped.get()).values[0]!.value, 3);
  await sampler.stop();
  assert.is(sampler.buffered, 0);
  const rows = await server.app.sql<{ hero_id: string }[]>`select hero_id from breadcrumbs where hero_id = any(${ids}) order by at`;
  assert.equal(rows.map((r) => r.hero_id), [ids[3], ids[4], ids[0]], 'the oldest three dropped, the newest written by stop()');
  assert.is((await metrics.breadcrumbsKept.get()).values[0]!.value, 3);
});

test('layout: points land in day partitions made ahead; pruneBreadcrumbs drops whole days, then deletes in bounded batches', async ({ server }) => {
  const { sql } = server.app;
  const DAY = 86_400_000;
  const today = Math.floor(Date.now() / DAY) * DAY;
  // The sampler made the day's partition, and the next day's, before inserting (earlier tests pinged).
  const [latest] = await sql<{ part: string; at: Date }[]>`select tableoid::regclass::text as part, at from breadcrumbs order by at desc limit 1`;
  const last = latest!.at.getTime();
  assert.is(latest!.part, breadcrumbDay(last).name, 'live points are in their day\'s partition, not the default one');
  const [ahead] = await sql`select to_regclass(${breadcrumbDay(last + DAY).name}) is not null as made`;
  assert.ok(ahead!.made, 'the next day\'s partition is made ahead');

  const hero = uid('h-');
  const d3 = today - 3 * DAY;
  const d2 = today - 2 * DAY;
  assert.equal((await ensureBreadcrumbDays(sql, [d3, d2])).sort(), [breadcrumbDay(d3).name, breadcrumbDay(d2).name].sort());
  const at = (ms: number) => ({ heroId: hero, at: ms, lat: 1, lng: 2 });
  await insertBreadcrumbs(sql, [
    at(d3 + 1_000), at(d3 + 2_000), at(d3 + 3_000), // a whole day before the cut: dropped
    at(d2 + 6 * 3_600_000), at(d2 + 7 * 3_600_000), // the day the cut goes through, before it: deleted
    at(d2 + 18 * 3_600_000), // after the cut: kept
    at(today - 10 * DAY), at(today - 11 * DAY), // no partition for these days: the default one, deleted
  ]);
  const before = new Date(d2 + 12 * 3_600_000);
  const answers: number[] = [];
  do answers.push(await pruneBreadcrumbs(sql, before, 1)); while (answers.at(-1) !== 0 && answers.length < 10);
  assert.equal(answers, [3, 1, 1, 1, 1, 0], 'the old day at once, then one row per call');
  const left = await sql<{ at: Date }[]>`select at from breadcrumbs where hero_id = ${hero}`;
  assert.equal(left.map((r) => r.at.getTime()), [d2 + 18 * 3_600_000]);
  const [gone] = await sql`select to_regclass(${breadcrumbDay(d3).name}) is null as dropped`;
  assert.ok(gone!.dropped, 'the whole day before the cut was dropped, not emptied');
});

test.run();

// ---- the time rule, on a server of its own -------------------------------------------

const EVERY_MS = 300;
const timed = serverSuite('breadcrumbs every', { BREADCRUMB_EVERY_MS: EVERY_MS, BREADCRUMB_MIN_M: 100_000, BREADCRUMB_FLUSH_MS: 50 });

timed('the rule: a hero standing still leaves a point every BREADCRUMB_EVERY_MS, not one per ping', async ({ server }) => {
  const c = area();
  const { hero, incident } = await assignedHero(server, c);
  // Pings about every 40 ms for 1.5 s, all at one spot; then one 150 km away (kept by distance) as the barrier.
  const until = Date.now() + 1_500;
  let sent = 0;
  while (Date.now() < until) {
    await pingTo(server, hero, c);
    sent += 1;
    await sleep(30);
  }
  const far = north(c, 150_000);
  await pingTo(server, hero, far);
  await untilCrumb(server, hero.id, far);
  const still = (await crumbs(server, hero.id)).filter((p) => p.lat === c.lat);
  assert.ok(still.length >= 2, `${still.length} points kept while standing still`);
  const gaps = still.slice(1).map((p, k) => p.at - still[k]!.at);
  assert.ok(gaps.every((g) => g >= EVERY_MS), `every gap at least ${EVERY_MS} ms: ${gaps.join(', ')} (from ${sent} pings)`);
  await resolve(server, hero, incident.id);
  closeAll(hero);
});

timed.run();
