// README guarantees about matching, dispatch rounds, linking, refusals and the list
// endpoint, each exercised through the real server (README "How it is built",
// "Protocol extensions"). Test titles name the guarantee they back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisKeys } from '../server/redis.ts';
import { eventually, http } from './helpers/clients.ts';
import { captureLog } from './helpers/fuzz-probes.ts';
import { checkInvariants } from './helpers/invariants.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, dispatcherToken, heroOffered, heroOnline, matchable, report as send } from './helpers/world.ts';

interface Ctx { server: TestServer; errors: Record<string, unknown>[] }
const test = suite<Ctx>('README guarantees: dispatch');

// A 2 km base radius leaves room to place heroes inside it, beyond it, and beyond its
// double; a 2.5 s dedupe window can be waited out; offers last longer than any test.
const BASE_KM = 2;
const WINDOW_MS = 2_500;

test.before(async (ctx) => {
  const { log, errors } = captureLog();
  ctx.errors = errors;
  ctx.server = await startServer({
    DISPATCH_BASE_RADIUS_KM: BASE_KM, DISPATCH_MAX_RADIUS_KM: 50, DEDUPE_WINDOW_MS: WINDOW_MS,
    OFFER_TIMEOUT_MS: 30_000, DISPATCH_RETRY_MS: 5_000, REPORTS_PER_MINUTE: 100_000,
  }, { log });
});
test.after(async (ctx) => { await ctx.server?.stop(); });
test.after.each(async (ctx) => { await checkInvariants(ctx.server); });

/** A report; anything but 201 (new) or 200 (linked) fails the test here, with the answer. */
async function report(server: TestServer, token: string, body: Record<string, unknown>) {
  const answer = await send(server, token, body);
  assert.ok(answer.status === 201 || answer.status === 200, `report answered ${answer.status}: ${JSON.stringify(answer.incident)}`);
  return answer;
}

type RoundData = { offered: string[]; radiusKm: number };
async function rounds(server: TestServer, incidentId: string): Promise<RoundData[]> {
  const rows = await server.app.sql<{ data: RoundData }[]>`
    select data from incident_events where incident_id = ${incidentId} and type = 'ROUND' order by seq`;
  return rows.map((r) => ({ offered: r.data.offered, radiusKm: r.data.radiusKm }));
}

async function offeredHeroes(server: TestServer, incidentId: string): Promise<string[]> {
  const rows = await server.app.sql<{ hero_id: string }[]>`select hero_id from offers where incident_id = ${incidentId} order by created_at, id`;
  return rows.map((r) => r.hero_id);
}

/** Waits (bounded) until the incident has recorded `n` ROUND events, and returns them all. */
async function roundsRecorded(server: TestServer, incidentId: string, n: number): Promise<RoundData[]> {
  await eventually(`${n} ROUND event(s) on ${incidentId}`, async () => (await rounds(server, incidentId)).length >= n);
  return rounds(server, incidentId);
}

async function cancelByDispatcher(server: TestServer, incidentId: string): Promise<void> {
  const res = await http(server, 'POST', `/v1/incidents/${incidentId}/cancel`, { token: await dispatcherToken(server), body: { reason: 'test over' } });
  assert.is(res.status, 200, JSON.stringify(res.body));
}

// ---- Matching: status versions ---------------------------------------------------

test('status versions: an older hero:status relayed late never moves the available set backwards', async ({ server }) => {
  const keys = redisKeys(server.prefix);
  const { hero, incident, offer } = await heroOffered(server, 'fire');

  // Postgres moved the hero to `offered`; wait for its copy to reach Redis.
  const [row] = await server.app.sql<{ status: string; status_version: string }[]>`select status, status_version from heroes where id = ${hero.id}`;
  assert.is(row!.status, 'offered');
  const newer = Number(row!.status_version);
  await eventually('offered status copied to Redis', async () =>
    (await server.app.redis.hget(keys.status, hero.id)) === `offered:${newer}:ground`);
  assert.is(await server.app.redis.zscore(keys.available, hero.id), null);

  // A relay that claimed the previous change (`available`, one version older) carries
  // it out only now: the relay pass runs it like any other row.
  const [stale] = await server.app.sql<{ id: string }[]>`
    insert into outbox (topic, incident_id, payload)
    values ('hero:status', null, ${server.app.sql.json({ id: hero.id, status: 'available', version: newer - 1, mode: 'ground' })})
    returning id`;
  await eventually('the stale row carried out and deleted', async () =>
    (await server.app.sql`select 1 from outbox where id = ${stale!.id}`).length === 0);
  assert.is(await server.app.redis.hget(keys.status, hero.id), `offered:${newer}:ground`, 'Redis kept the newer status');
  assert.is(await server.app.redis.zscore(keys.available, hero.id), null, 'the offered hero did not reappear as available');

  // A newer change still applies: declining makes the hero available again (version + 1).
  assert.equal(await hero.client.ask('offer:decline', { offerId: offer.offerId }), { ok: true });
  await eventually('the newer available status applied', async () =>
    (await server.app.redis.hget(keys.status, hero.id)) === `available:${newer + 1}:ground`
      && (await server.app.redis.zscore(keys.available, hero.id)) !== null);
  await cancelByDispatcher(server, incident.id);
  closeAll(hero);
});

// ---- Matching: ETA ranking ------------------------------------------------------

// ETA = km × detour / speed: ground pays 1.4 at 50 km/h, air flies straight at 120 km/h.
const ETA_CASES = [
  // ground 0.6 km: 1.01 min; air 1.4 km: 0.70 min.
  { title: 'an air hero further away but sooner there is offered before a nearer ground hero', groundKm: 0.6, airKm: 1.4, first: 'air' },
  // ground 0.4 km: 0.67 min; air 1.6 km: 0.80 min: ETA, not mode, decides.
  { title: 'a nearer ground hero who is sooner there is offered before a slower-to-arrive air hero', groundKm: 0.4, airKm: 1.6, first: 'ground' },
] as const;

for (const c of ETA_CASES) {
  test(`ETA ranking: ${c.title}`, async ({ server }) => {
    const center = area();
    const ground = await heroOnline(server, center, c.groundKm, { mode: 'ground' });
    const air = await heroOnline(server, center, c.airKm, { mode: 'air' });
    await matchable(server, [ground, air]);
    const winner = c.first === 'air' ? air : ground;
    const civ = await server.token('civilian', uid('c-'));
    // Medium: one hero at a time, so the round offers only the best-ranked one.
    const { incident } = await report(server, civ, { kind: 'accident', severity: 'medium', location: center });
    assert.equal((await roundsRecorded(server, incident.id, 1))[0]?.offered, [winner.id], `round 1 offered the ${c.first} hero`);
    assert.equal(await offeredHeroes(server, incident.id), [winner.id], 'and nobody else');
    await winner.client.next('offer', (o) => o.incident.id === incident.id);
    await cancelByDispatcher(server, incident.id);
    closeAll(ground, air);
  });
}

// ---- Matching: radius widening --------------------------------------------------

test('radius widening: each round doubles the radius, so a hero beyond the base radius is offered only in a later round', async ({ server }) => {
  const center = area();
  const near = await heroOnline(server, center, 1); // inside BASE_KM
  const far = await heroOnline(server, center, 3); // beyond BASE_KM, inside 2 × BASE_KM
  await matchable(server, [near, far]);
  const civ = await server.token('civilian', uid('c-'));
  const { incident } = await report(server, civ, { kind: 'disaster', severity: 'medium', location: center });

  assert.equal(await roundsRecorded(server, incident.id, 1), [{ offered: [near.id], radiusKm: BASE_KM }], 'round 1 searched the base radius only');
  const first = await near.client.next('offer', (o) => o.incident.id === incident.id);
  assert.equal(far.client.all('offer').filter((o) => o.incident.id === incident.id), [], 'the far hero was not offered in round 1');

  // The near hero declines: round 2 searches twice as far and finds the far hero.
  assert.equal(await near.client.ask('offer:decline', { offerId: first.offerId }), { ok: true });
  assert.equal(await roundsRecorded(server, incident.id, 2), [
    { offered: [near.id], radiusKm: BASE_KM },
    { offered: [far.id], radiusKm: 2 * BASE_KM },
  ], 'round 2 searched twice the base radius');
  const second = await far.client.next('offer', (o) => o.incident.id === incident.id);

  // Both declined: round 3 doubles again and finds nobody new (then escalates).
  assert.equal(await far.client.ask('offer:decline', { offerId: second.offerId }), { ok: true });
  assert.equal((await roundsRecorded(server, incident.id, 3))[2], { offered: [], radiusKm: 4 * BASE_KM });
  await cancelByDispatcher(server, incident.id);
  closeAll(near, far);
});

test('radius widening: a round that finds nobody inside its radius doubles it at once', async ({ server }) => {
  const center = area();
  const far = await heroOnline(server, center, 5); // beyond BASE_KM and 2 × BASE_KM, inside 4 × BASE_KM
  await matchable(server, [far]);
  const civ = await server.token('civilian', uid('c-'));
  const { incident } = await report(server, civ, { kind: 'disaster', severity: 'medium', location: center });
  assert.equal(await roundsRecorded(server, incident.id, 1), [{ offered: [far.id], radiusKm: 4 * BASE_KM }], 'round 1 widened 2 → 4 → 8 km');
  await far.client.next('offer', (o) => o.incident.id === incident.id);
  await cancelByDispatcher(server, incident.id);
  closeAll(far);
});

test('radius widening: never past DISPATCH_MAX_RADIUS_KM, so a hero beyond it is not offered', async ({ server }) => {
  const center = area();
  const beyond = await heroOnline(server, center, 60); // past the 50 km max (areas are ~150 km apart)
  await matchable(server, [beyond]);
  const civ = await server.token('civilian', uid('c-'));
  const { incident } = await report(server, civ, { kind: 'disaster', severity: 'medium', location: center });
  assert.equal(await roundsRecorded(server, incident.id, 1), [{ offered: [], radiusKm: 50 }], 'round 1 widened 2 → … → 32 → 50 km and stopped');
  assert.equal(await offeredHeroes(server, incident.id), []);
  await cancelByDispatcher(server, incident.id);
  closeAll(beyond);
});

// ---- Linking: the dedupe window -------------------------------------------------

test('dedupe window: a report of the same kind and place after DEDUPE_WINDOW_MS (from the first report) is a new incident', async ({ server }) => {
  const center = area();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  const first = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'high', location: center });
  assert.is(first.status, 201);
  const [row] = await server.app.sql<{ created_at: Date }[]>`select created_at from incidents where id = ${first.incident.id}`;
  const reportedAt = row!.created_at.getTime();

  // Late in the window the same kind and place still links (so place and kind match)...
  await sleep(reportedAt + WINDOW_MS - 1_000 - Date.now());
  const within = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'high', location: center });
  assert.is(within.status, 200, 'linked inside the window');
  assert.is(within.incident.id, first.incident.id);

  // ...and once the window since the first report has passed, it does not: the link
  // above did not extend the window (it is less than DEDUPE_WINDOW_MS old now).
  await sleep(reportedAt + WINDOW_MS + 300 - Date.now());
  const [open] = await server.app.sql<{ state: string }[]>`select state from incidents where id = ${first.incident.id}`;
  assert.not.ok(['resolved', 'cancelled'].includes(open!.state), `the first incident is still open (${open!.state})`);
  const after = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'high', location: center });
  assert.is(after.status, 201, 'answered as a new incident');
  assert.is.not(after.incident.id, first.incident.id);
  await cancelByDispatcher(server, first.incident.id);
  await cancelByDispatcher(server, after.incident.id);
});

// ---- Refusal reasons: withdrawn, internal ----------------------------------------

test('withdrawn: going off duty withdraws a pending offer with reason withdrawn, and accepting it is refused withdrawn', async ({ server }) => {
  const { hero, incident, offer } = await heroOffered(server, 'crime');
  assert.equal(await hero.client.ask('duty', { onDuty: false }), { ok: true });
  const pushed = await hero.client.next('offer:withdrawn', (w) => w.offerId === offer.offerId);
  assert.is(pushed.reason, 'withdrawn');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: false, reason: 'withdrawn' });
  await cancelByDispatcher(server, incident.id);
  closeAll(hero);
});

test('withdrawn: a dispatcher assigning a hero elsewhere withdraws their pending offer with reason withdrawn (accepting it answers busy)', async ({ server }) => {
  const { hero, civ, incident: offered, offer } = await heroOffered(server, 'crime');
  // A second incident far away (no hero in range); the dispatcher sends this hero there.
  const { incident: elsewhere } = await report(server, civ, { kind: 'fire', severity: 'high', location: area() });
  const assigned = await http(server, 'POST', `/v1/incidents/${elsewhere.id}/assign`, { token: await dispatcherToken(server), body: { heroId: hero.id } });
  assert.is(assigned.status, 200, JSON.stringify(assigned.body));
  const pushed = await hero.client.next('offer:withdrawn', (w) => w.offerId === offer.offerId);
  assert.is(pushed.reason, 'withdrawn');
  // The hero now holds an assignment: the refusal says so (closedReason: reassigned → busy).
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: false, reason: 'busy' });
  await cancelByDispatcher(server, offered.id);
  await cancelByDispatcher(server, elsewhere.id);
  closeAll(hero);
});

test('internal: a server fault (an unreadable incident row) is answered internal and logged with its cause', async (ctx) => {
  const { server } = ctx;
  const { hero, incident, offer } = await heroOffered(server, 'crime');

  // The row is made unreadable to the code (its snapshot is not a machine snapshot):
  // no input of the hero's is at fault, so this is a server fault, not a refusal.
  const [saved] = await server.app.sql<{ snapshot: unknown }[]>`select snapshot from incidents where id = ${incident.id}`;
  const before = ctx.errors.length;
  try {
    await server.app.sql`update incidents set snapshot = ${server.app.sql.json('unreadable')} where id = ${incident.id}`;
    assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: false, reason: 'internal' });
  } finally {
    await server.app.sql`update incidents set snapshot = ${server.app.sql.json(saved!.snapshot as never)} where id = ${incident.id}`;
  }
  const logged = ctx.errors.slice(before).find((e) => e.msg === 'socket handler failed' && e.event === 'offer:accept');
  assert.ok(logged, `an error line for the fault: ${JSON.stringify(ctx.errors.slice(before)).slice(0, 500)}`);
  const err = logged!.err as { type?: string; message?: string; stack?: string } | undefined;
  assert.ok(err?.message && err.stack, `the line carries the cause: ${JSON.stringify(logged)}`);
  assert.match(err!.message!, /filled|slots/);

  // Nothing was committed by the failed accept: with the row readable again, it wins.
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state: 'on_scene' }), { ok: true, state: 'on_scene' });
  assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state: 'resolved' }), { ok: true, state: 'resolved' });
  closeAll(hero);
});

// ---- GET /v1/incidents ------------------------------------------------------------

test('GET /v1/incidents: state takes a comma-separated list, and an unknown state is 400', async ({ server }) => {
  const center = area();
  const civ = await server.token('civilian', uid('c-'));
  const disp = await dispatcherToken(server);
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const { incident: assigned } = await report(server, civ, { kind: 'accident', severity: 'medium', location: center });
  const offer = await hero.client.next('offer', (o) => o.incident.id === assigned.id);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: assigned.id });
  const { incident: cancelled } = await report(server, civ, { kind: 'fire', severity: 'low', location: area() });
  await cancelByDispatcher(server, cancelled.id);
  const { incident: looking } = await report(server, civ, { kind: 'disaster', severity: 'low', location: area() }); // nobody in range

  const list = async (state: string) => {
    const res = await http(server, 'GET', `/v1/incidents?state=${encodeURIComponent(state)}`, { token: disp });
    assert.is(res.status, 200, JSON.stringify(res.body));
    return res.body.items as { id: string; state: string }[];
  };
  const both = await list('assigned,cancelled');
  const ids = both.map((i) => i.id);
  assert.ok(ids.includes(assigned.id) && ids.includes(cancelled.id), 'both listed states are returned');
  assert.not.ok(ids.includes(looking.id), 'an incident in another state is not');
  assert.ok(both.every((i) => i.state === 'assigned' || i.state === 'cancelled'), JSON.stringify(both.map((i) => i.state)));
  const one = (await list('cancelled')).map((i) => i.id);
  assert.ok(one.includes(cancelled.id) && !one.includes(assigned.id));

  const bad = await http(server, 'GET', '/v1/incidents?state=assigned,sleeping', { token: disp });
  assert.is(bad.status, 400);
  assert.is(bad.body.code, 'invalid');
  assert.match(bad.body.detail, /sleeping/);

  assert.equal(await hero.client.ask('incident:progress', { incidentId: assigned.id, state: 'on_scene' }), { ok: true, state: 'on_scene' });
  assert.equal(await hero.client.ask('incident:progress', { incidentId: assigned.id, state: 'resolved' }), { ok: true, state: 'resolved' });
  await cancelByDispatcher(server, looking.id);
  closeAll(hero);
});

test('GET /v1/incidents: without state it lists the 1,000 most recent incidents, newest first', async ({ server }) => {
  const civ = await server.token('civilian', uid('c-'));
  const { incident: template } = await report(server, civ, { kind: 'other', severity: 'low', location: area() });
  await cancelByDispatcher(server, template.id);
  // 1,000 copies of a real (cancelled) incident and its trail, older than anything
  // else in this schema: their trails replay like the original's (invariant I5).
  const tag = uid('clone-');
  const sql = server.app.sql;
  try {
    await sql.begin(async (tx) => {
      await tx`
        insert into incidents
        select (jsonb_populate_record(null::incidents, to_jsonb(i) || jsonb_build_object(
                  'id', ${tag} || '-' || g, 'created_at', now() - interval '1 day' - g * interval '1 second'))).*
          from incidents i, generate_series(1, 1000) g where i.id = ${template.id}`;
      await tx`
        insert into incident_events
        select (jsonb_populate_record(null::incident_events, to_jsonb(e) || jsonb_build_object('incident_id', ${tag} || '-' || g))).*
          from incident_events e, generate_series(1, 1000) g where e.incident_id = ${template.id}`;
    });
    const { incident: newest } = await report(server, civ, { kind: 'other', severity: 'low', location: area() });
    const [count] = await sql<{ n: number }[]>`select count(*)::int as n from incidents`;
    const n = count!.n;
    assert.ok(n > 1_000, `more than 1,000 incidents stored (${n})`);

    const res = await http(server, 'GET', '/v1/incidents', { token: await dispatcherToken(server) });
    assert.is(res.status, 200);
    const items = res.body.items as { id: string; createdAt: number }[];
    assert.is(items.length, 1_000);
    assert.is(items[0]!.id, newest.id, 'the newest first');
    for (let i = 1; i < items.length; i++) assert.ok(items[i - 1]!.createdAt >= items[i]!.createdAt, `newest first at ${i}`);
    const listed = new Set(items.map((i) => i.id));
    assert.not.ok(listed.has(`${tag}-1000`), 'the oldest is left out');
    // Everything left out is older than everything listed.
    const oldestListed = Math.min(...items.map((i) => i.createdAt));
    const rows = await sql<{ id: string; created_at: Date }[]>`select id, created_at from incidents`;
    const left = rows.filter((r) => !listed.has(r.id));
    assert.is(left.length, n - 1_000);
    assert.ok(left.every((r) => r.created_at.getTime() <= oldestListed), 'only older incidents are left out');
    // The cap holds with a state filter too (every copy is cancelled).
    const filtered = await http(server, 'GET', '/v1/incidents?state=cancelled', { token: await dispatcherToken(server) });
    assert.is(filtered.status, 200);
    assert.is(filtered.body.items.length, 1_000);
    await cancelByDispatcher(server, newest.id);
  } finally {
    await sql.begin(async (tx) => {
      await tx`delete from incident_events where incident_id like ${`${tag}-%`}`;
      await tx`delete from incidents where id like ${`${tag}-%`}`;
    });
  }
});

test.run();
