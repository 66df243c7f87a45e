// Races that must have exactly one winner: 50 heroes accepting one incident, a busy
// hero, accept against expiry, accept against a dispatcher's hand assignment, and the
// dispatcher overrides that must refuse conflicts. Every answer is checked against rows.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import * as assert from 'uvu/assert';
import { redisKeys } from '../server/redis.ts';
import type { LatLng } from '../shared/types.ts';
import { http, sleep, eventually } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, heroOnline, matchable, registerHero, report, type OnlineHero } from './helpers/world.ts';

type Ctx = { server: TestServer; disp: string };
/**
 * Positive: the HTTP side starts this much later; negative: the socket side does. The
 * first five are true races (either may win); the last two give one side a head start
 * far longer than either call takes, so each order is driven at least once, and the
 * test requires both to have happened.
 */
const STAGGER_MS = [0, 2, -2, 4, -4, 150, -150];
const race = <A, B>(ask: () => Promise<A>, call: () => Promise<B>, ms: number): Promise<[A, B]> =>
  Promise.all([sleep(Math.max(0, -ms)).then(ask), sleep(Math.max(0, ms)).then(call)]);
type Ack = { ok: boolean; incidentId?: string; reason?: string; state?: string };

/** Reports an incident as a fresh civilian and returns its id. */
async function incidentAt(server: TestServer, at: LatLng, severity = 'low'): Promise<string> {
  const { status, incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'accident', severity, location: at });
  assert.is(status, 201, JSON.stringify(incident));
  return incident.id;
}

/** The offer for `incidentId` this hero received. */
const offerOf = (h: OnlineHero, incidentId: string, ms = 10_000) =>
  h.client.next<{ offerId: string; expiresAt: number }>('offer', (o: any) => o.incident.id === incidentId, ms);

const active = (server: TestServer, where: { incidentId?: string; heroId?: string }) => server.app.sql<{ incident_id: string; hero_id: string }[]>`
  select incident_id, hero_id from assignments where state = 'active'
   ${where.incidentId ? server.app.sql`and incident_id = ${where.incidentId}` : server.app.sql``}
   ${where.heroId ? server.app.sql`and hero_id = ${where.heroId}` : server.app.sql``}`;

const offerRow = async (server: TestServer, id: string) =>
  (await server.app.sql<{ state: string; reason: string | null }[]>`select state, reason from offers where id = ${id}`)[0];

const assign = (ctx: Ctx, incidentId: string, heroId: string) =>
  http(ctx.server, 'POST', `/v1/incidents/${incidentId}/assign`, { token: ctx.disp, body: { heroId } });
const cancel = (ctx: Ctx, incidentId: string) =>
  http(ctx.server, 'POST', `/v1/incidents/${incidentId}/cancel`, { token: ctx.disp, body: { reason: 'test over' } });

const test = serverSuite<Ctx>('races', { OFFER_BATCH_CRITICAL: 50, DISPATCH_RETRY_MS: 200 });
test.before(async (ctx) => { ctx.disp = await ctx.server.token('dispatcher', uid('disp-')); });

test('50 heroes accept one critical incident at the same instant: exactly one wins (x3)', async ({ server }) => {
  for (let round = 0; round < 3; round++) {
    const center = area();
    const heroes = await Promise.all(Array.from({ length: 50 }, (_, i) => heroOnline(server, center, 0.05 + i * 0.04)));
    await matchable(server, heroes, 10_000);
    const incidentId = await incidentAt(server, center, 'critical');
    const offers = await Promise.all(heroes.map((h) => offerOf(h, incidentId)));
    assert.is(new Set(offers.map((o) => o.offerId)).size, 50);

    const acks = await Promise.all(heroes.map((h, i) => h.client.ask<Ack>('offer:accept', { offerId: offers[i]!.offerId })));
    const winners = acks.flatMap((a, i) => (a.ok ? [i] : []));
    assert.is(winners.length, 1, `round ${round}: winners ${JSON.stringify(winners)}`);
    const w = winners[0]!;
    assert.equal(acks[w], { ok: true, incidentId });
    for (const [i, a] of acks.entries()) if (i !== w) assert.equal(a, { ok: false, reason: 'taken' }, `hero ${i}`);

    const rows = await active(server, { incidentId });
    assert.equal(rows.map((r) => r.hero_id), [heroes[w]!.id]);
    const states = await server.app.sql<{ hero_id: string; state: string; reason: string | null }[]>`
      select hero_id, state, reason from offers where incident_id = ${incidentId}`;
    assert.is(states.length, 50);
    assert.equal(states.filter((s) => s.state === 'accepted').map((s) => s.hero_id), [heroes[w]!.id]);
    assert.is(states.filter((s) => s.state === 'withdrawn' && s.reason === 'taken').length, 49, JSON.stringify(states.filter((s) => s.state !== 'withdrawn')));
    // The winner's repeat is answered the same and changes nothing; the losers hear why.
    assert.equal(await heroes[w]!.client.ask('offer:accept', { offerId: offers[w]!.offerId }), { ok: true, incidentId });
    assert.is((await active(server, { incidentId })).length, 1);
    await Promise.all(heroes.map(async (h, i) => {
      if (i === w) return;
      const wd = await h.client.next('offer:withdrawn', (p: any) => p.offerId === offers[i]!.offerId);
      assert.is(wd.reason, 'taken');
    }));
    const [inc] = await server.app.sql<{ state: string }[]>`select state from incidents where id = ${incidentId}`;
    assert.is(inc?.state, 'assigned');
    closeAll(...heroes);
  }
});

test('a hero holding an assignment cannot win a stray offer elsewhere: busy', async (ctx) => {
  const { server } = ctx;
  const a = area();
  const hero = await heroOnline(server, a, 0.4);
  await matchable(server, [hero]);
  const incA = await incidentAt(server, a);
  const offA = await offerOf(hero, incA);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offA.offerId }), { ok: true, incidentId: incA });

  // The matcher race the index cannot stop once the first offer is no longer pending.
  const incB = await incidentAt(server, area());
  const stray = randomUUID();
  await server.app.sql`insert into offers (id, incident_id, hero_id, slot, round, distance_km, expires_at)
    values (${stray}, ${incB}, ${hero.id}, 0, 1, 1.0, now() + interval '30 seconds')`;
  assert.equal(await hero.client.ask('offer:accept', { offerId: stray }), { ok: false, reason: 'busy' });
  assert.equal((await active(server, { heroId: hero.id })).map((r) => r.incident_id), [incA]);
  assert.is((await active(server, { incidentId: incB })).length, 0);
  assert.is((await offerRow(server, stray))?.state, 'pending', 'a refused accept changes nothing');
  assert.is((await cancel(ctx, incB)).status, 200);
  assert.is((await offerRow(server, stray))?.state, 'withdrawn');
  closeAll(hero);
});

test('accept and a hand assignment of the same hero elsewhere: exactly one wins, both orders happen (x7)', async (ctx) => {
  const { server } = ctx;
  const seen: string[] = [];
  for (let i = 0; i < STAGGER_MS.length; i++) {
    const a = area();
    const hero = await heroOnline(server, a, 0.3);
    await matchable(server, [hero]);
    const inc1 = await incidentAt(server, a);
    const inc2 = await incidentAt(server, area());
    const offer = await offerOf(hero, inc1);
    await http(server, 'GET', '/healthz'); // warm the HTTP connection so both start together
    const [ack, res] = await race(
      () => hero.client.ask<Ack>('offer:accept', { offerId: offer.offerId }),
      () => assign(ctx, inc2, hero.id), STAGGER_MS[i]!);
    seen.push(ack.ok ? 'accept' : 'assign');
    assert.ok(ack.ok !== (res.status === 200), `exactly one winner: ack ${JSON.stringify(ack)}, assign ${res.status}`);
    const rows = await active(server, { heroId: hero.id });
    assert.is(rows.length, 1);
    if (ack.ok) {
      assert.equal(ack, { ok: true, incidentId: inc1 });
      assert.is(res.status, 409, JSON.stringify(res.body));
      assert.is(rows[0]!.incident_id, inc1);
      assert.is((await offerRow(server, offer.offerId))?.state, 'accepted');
      assert.is((await cancel(ctx, inc2)).status, 200);
    } else {
      // The dispatcher won: the hero now holds an active assignment elsewhere.
      assert.equal(ack, { ok: false, reason: 'busy' });
      assert.is(res.body.state, 'assigned');
      assert.is(rows[0]!.incident_id, inc2);
      assert.is((await offerRow(server, offer.offerId))?.state, 'withdrawn');
      assert.is((await active(server, { incidentId: inc1 })).length, 0);
      assert.is((await cancel(ctx, inc1)).status, 200);
    }
    closeAll(hero);
  }
  console.log(`    accept vs assign elsewhere (stagger ms:winner): ${seen.map((w, i) => `${STAGGER_MS[i]}:${w}`).join(', ')}`);
  assert.ok(seen.includes('accept') && seen.includes('assign'), `both orders must occur: ${seen.join(', ')}`);
});

test('accept racing a hand assignment of another hero to the same incident: one winner, both orders happen (x7)', async (ctx) => {
  const { server } = ctx;
  const seen: string[] = [];
  for (let i = 0; i < STAGGER_MS.length; i++) {
    const x = area();
    const heroA = await heroOnline(server, x, 0.3);
    const heroB = await heroOnline(server, area(), 0.3);
    await matchable(server, [heroA, heroB]);
    const incX = await incidentAt(server, x);
    const offer = await offerOf(heroA, incX);
    await http(server, 'GET', '/healthz');
    const [ack, res] = await race(
      () => heroA.client.ask<Ack>('offer:accept', { offerId: offer.offerId }),
      () => assign(ctx, incX, heroB.id), STAGGER_MS[i]!);
    const rows = await active(server, { incidentId: incX });
    assert.is(rows.length, 1);
    if (ack.ok) {
      seen.push('A');
      assert.equal(ack, { ok: true, incidentId: incX });
      assert.is(res.status, 409, JSON.stringify(res.body));
      assert.is(rows[0]!.hero_id, heroA.id);
      assert.is((await active(server, { heroId: heroB.id })).length, 0);
    } else {
      seen.push('B');
      assert.equal(ack, { ok: false, reason: 'taken' });
      assert.is(res.status, 200, JSON.stringify(res.body));
      assert.is(res.body.state, 'assigned');
      assert.equal(res.body.assignments.map((a: any) => [a.heroId, a.state]), [[heroB.id, 'active']]);
      assert.is(rows[0]!.hero_id, heroB.id);
      assert.equal(await offerRow(server, offer.offerId), { state: 'withdrawn', reason: 'taken' });
      const wd = await heroA.client.next('offer:withdrawn', (p: any) => p.offerId === offer.offerId);
      assert.is(wd.reason, 'taken');
      const session = await heroB.client.next('session', (s: any) => s.assignment?.incidentId === incX);
      assert.is(session.assignment.incident.id, incX);
    }
    closeAll(heroA, heroB);
  }
  console.log(`    accept vs assign same incident (stagger ms:winner): ${seen.map((w, i) => `${STAGGER_MS[i]}:${w}`).join(', ')}`);
  assert.ok(seen.includes('A') && seen.includes('B'), `both orders must occur: ${seen.join(', ')}`);
});

test('overrides refuse conflicts; reassign releases the hero and dispatches again', async (ctx) => {
  const { server } = ctx;
  const a = area();
  const hero = await heroOnline(server, a, 0.4);
  await matchable(server, [hero]);
  const incA = await incidentAt(server, a);
  const offA = await offerOf(hero, incA);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offA.offerId }), { ok: true, incidentId: incA });

  // A busy hero cannot be assigned elsewhere.
  const incC = await incidentAt(server, area());
  const busy = await assign(ctx, incC, hero.id);
  assert.is(busy.status, 409, JSON.stringify(busy.body));
  assert.is(busy.body.status, 409);
  assert.is((await active(server, { incidentId: incC })).length, 0);
  assert.equal((await active(server, { heroId: hero.id })).map((r) => r.incident_id), [incA]);

  // Nobody can be assigned to a resolved or a cancelled incident.
  for (const state of ['en_route', 'on_scene', 'resolved']) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incA, state }), { ok: true, state });
  }
  const spare = await registerHero(server);
  const onResolved = await assign(ctx, incA, spare.id);
  assert.is(onResolved.status, 409, JSON.stringify(onResolved.body));
  assert.is((await cancel(ctx, incC)).status, 200);
  const onCancelled = await assign(ctx, incC, spare.id);
  assert.is(onCancelled.status, 409, JSON.stringify(onCancelled.body));
  assert.is((await active(server, { heroId: spare.id })).length, 0);
  const noHero = await http(server, 'POST', `/v1/incidents/${incC}/reassign`, { token: ctx.disp, body: { reason: 'x' } });
  assert.is(noHero.status, 409);

  // Reassign: the first hero is released and fenced off, the next one gets the offer.
  const r = area();
  const first = await heroOnline(server, r, 0.3);
  const second = await heroOnline(server, r, 1.5);
  await matchable(server, [first, second]);
  const incR = await incidentAt(server, r);
  const o1 = await offerOf(first, incR);
  assert.is(second.client.all('offer').length, 0);
  assert.equal(await first.client.ask('offer:accept', { offerId: o1.offerId }), { ok: true, incidentId: incR });
  const re = await http(server, 'POST', `/v1/incidents/${incR}/reassign`, { token: ctx.disp, body: { reason: 'no answer on radio' } });
  assert.is(re.status, 200, JSON.stringify(re.body));
  assert.is(re.body.state, 'dispatching');
  assert.equal(re.body.assignments.map((x: any) => [x.heroId, x.state]), [[first.id, 'released']]);
  const released = await first.client.next('assignment:released', (p: any) => p.incidentId === incR);
  assert.ok(typeof released.reason === 'string' && released.reason.length > 0);
  const o2 = await offerOf(second, incR);
  assert.equal(await second.client.ask('offer:accept', { offerId: o2.offerId }), { ok: true, incidentId: incR });
  assert.equal(await first.client.ask('incident:progress', { incidentId: incR, state: 'en_route' }), { ok: false, reason: 'released' });
  assert.equal((await active(server, { incidentId: incR })).map((x) => x.hero_id), [second.id]);
  assert.is(first.client.all('offer').filter((o: any) => o.incident.id === incR).length, 1, 'the released hero is not offered it again');
  await eventually('released hero available', async () =>
    (await http(server, 'GET', `/v1/heroes/${first.id}`, { token: first.token })).body.status === 'available');
  closeAll(hero, first, second);
});

test.run();

// Accept against expiry needs short offers: its own server. Its sweeper runs once a
// minute, so within a test the only thing that expires an offer is the offer's own
// BullMQ job, which a test can hold back to make it late for real.
const expiry = serverSuite<Ctx>('races: accept vs expiry', { OFFER_TIMEOUT_MS: 1_000, DISPATCH_RETRY_MS: 200, SWEEP_INTERVAL_MS: 60_000 });
expiry.before(async (ctx) => { ctx.disp = await ctx.server.token('dispatcher', uid('disp-')); });

/** The server's offer-expiry queue, seen from the test (same Redis, same prefix). */
const expiryQueue = (server: TestServer) =>
  new Queue('expiry', { connection: server.app.redis, prefix: redisKeys(server.prefix).bullPrefix });

/** How the expiry job of this offer ended (true: it expired the offer), from BullMQ's event stream. */
async function expiryOutcome(server: TestServer, offerId: string): Promise<boolean> {
  const stream = `${redisKeys(server.prefix).bullPrefix}:expiry:events`;
  return eventually(`the expiry job of offer ${offerId} to complete`, async () => {
    for (const [, fields] of await server.app.redis.xrange(stream, '-', '+')) {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      if (f.get('event') === 'completed' && f.get('jobId') === `offer-${offerId}`) return { value: JSON.parse(f.get('returnvalue') ?? 'null') as boolean };
    }
    return null;
  }, 5_000).then((r) => r.value);
}

expiry('an accept landing around expiresAt is either won or expired, never half of each; past it, always expired (x6)', async (ctx) => {
  const { server } = ctx;
  const seen: string[] = [];
  // -300: sent well before the deadline, so won (one order driven); +30: sent after it,
  // so refused whatever the job did; the rest are true races.
  for (const jitter of [-300, -6, -3, -1, 0, 30]) {
    const c = area();
    const hero = await heroOnline(server, c, 0.3);
    await matchable(server, [hero]);
    const incidentId = await incidentAt(server, c);
    const offer = await offerOf(hero, incidentId, 5_000);
    await sleep(Math.max(0, offer.expiresAt - Date.now() + jitter));
    const ack = await hero.client.ask<Ack>('offer:accept', { offerId: offer.offerId });
    seen.push(`${jitter}:${ack.ok ? 'won' : ack.reason}`);
    if (jitter > 0) assert.equal(ack, { ok: false, reason: 'expired' }, `an accept sent ${jitter} ms past expiresAt`);
    if (ack.ok) {
      assert.equal(ack, { ok: true, incidentId });
      assert.is((await offerRow(server, offer.offerId))?.state, 'accepted');
      assert.equal((await active(server, { heroId: hero.id })).map((r) => r.incident_id), [incidentId]);
      // The expiry job runs after the accept and must leave the accepted offer alone.
      assert.is(await expiryOutcome(server, offer.offerId), false, 'the expiry job expired nothing');
      assert.is((await offerRow(server, offer.offerId))?.state, 'accepted');
      assert.is(hero.client.all('offer:withdrawn').length, 0);
    } else {
      assert.equal(ack, { ok: false, reason: 'expired' });
      await eventually('offer row expired', async () => (await offerRow(server, offer.offerId))?.state === 'expired', 3_000);
      const mine = await server.app.sql`select 1 from assignments where hero_id = ${hero.id}`;
      assert.is(mine.length, 0);
      await hero.client.next('offer:withdrawn', (p: any) => p.offerId === offer.offerId && p.reason === 'expired', 3_000);
    }
    assert.is((await cancel(ctx, incidentId)).status, 200);
    closeAll(hero);
  }
  console.log(`    accept vs expiry (jitter ms:outcome): ${seen.join(', ')}`);
  assert.ok(seen.some((x) => x.endsWith(':won')) && seen.some((x) => x.endsWith(':expired')), `both outcomes must occur: ${seen.join(', ')}`);
});

expiry('accept past expires_at while the expiry job is late: refused expired, nothing assigned', async (ctx) => {
  const { server } = ctx;
  const queue = expiryQueue(server);
  const c = area();
  const hero = await heroOnline(server, c, 0.3);
  try {
    await matchable(server, [hero]);
    const incidentId = await incidentAt(server, c);
    const offer = await offerOf(hero, incidentId, 5_000);
    // Hold the expiry worker back: the job stays due but does not run.
    await queue.pause();
    await eventually('the expiry job queued', async () => (await queue.getJob(`offer-${offer.offerId}`)) !== undefined, 3_000);
    await sleep(Math.max(0, offer.expiresAt - Date.now() + 50));
    const ack = await hero.client.ask<Ack>('offer:accept', { offerId: offer.offerId });
    assert.equal(ack, { ok: false, reason: 'expired' }, 'an accept past expires_at is refused by the accept itself');
    // Nothing else closed the offer: the refusal is the accept's own deadline check.
    assert.is((await offerRow(server, offer.offerId))?.state, 'pending', 'the expiry job was really late');
    assert.is((await active(server, { heroId: hero.id })).length, 0);
    assert.is((await active(server, { incidentId })).length, 0);

    // The late job runs at last and closes the offer as usual.
    await queue.resume();
    assert.is(await expiryOutcome(server, offer.offerId), true, 'the late expiry job expired the offer');
    assert.equal(await offerRow(server, offer.offerId), { state: 'expired', reason: 'expired' });
    await hero.client.next('offer:withdrawn', (p: any) => p.offerId === offer.offerId && p.reason === 'expired', 3_000);
    assert.is((await active(server, { heroId: hero.id })).length, 0);
    assert.is((await cancel(ctx, incidentId)).status, 200);
  } finally {
    await queue.resume().catch(() => {});
    await queue.close();
    closeAll(hero);
  }
});

expiry.run();
