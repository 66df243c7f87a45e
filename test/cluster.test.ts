// Three real `npm start` processes (scripts/cluster.ts) on one Postgres schema and one
// Redis prefix form one cluster: races are decided once, pushes reach clients on any
// member, hero map batches are not multiplied, and a SIGKILLed member loses nothing.
import * as assert from 'uvu/assert';
import type { HeroMapEntry, HeroSession, LatLng, OfferPush } from '../shared/types.ts';
import { connect, eventually, http, sleep, type Client } from './helpers/clients.ts';
import { civilianOrder, dispatcherOrder } from './helpers/push-order.ts';
import { clusterSuite, type ClusterCtx } from './helpers/cluster-suite.ts';
import { uid } from './helpers/server.ts';
import type { Stores } from './helpers/remote.ts';
import { area, closeAll, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

type Ctx = ClusterCtx;
type Ack = { ok: boolean; incidentId?: string; reason?: string; state?: string };
const SWEEP_MS = 300;
/** The members' HERO_BATCH_MS (the default): each sends at most one hero batch per period. */
const HERO_BATCH_MS = 1_000;
const STATES = ['reported', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved'];

const offerOf = (h: { client: Client }, incidentId: string, ms = 10_000) =>
  h.client.next<OfferPush>('offer', (o) => o.incident.id === incidentId, ms);
const activeOn = (s: Stores, incidentId: string) =>
  s.sql<{ hero_id: string }[]>`select hero_id from assignments where incident_id = ${incidentId} and state = 'active'`;
const stateOf = async (s: Stores, id: string) => (await s.sql<{ state: string }[]>`select state from incidents where id = ${id}`)[0]?.state;

/** What the members logged at warn or worse, grouped by message (the killed member 1's first life excluded). */
function logWarnings(ctx: Ctx): void {
  const seen = new Map<string, number>();
  for (const line of (ctx.cluster?.members ?? []).flatMap((mb) => mb.output.join('').split('\n'))) {
    let entry: { level?: number; msg?: string };
    try { entry = JSON.parse(line); } catch { entry = { level: 60, msg: line.slice(0, 120) }; }
    if (line.trim() && (entry.level ?? 0) >= 40) seen.set(`${entry.level}:${entry.msg}`, (seen.get(`${entry.level}:${entry.msg}`) ?? 0) + 1);
  }
  console.log(`cluster: member logs at warn+: ${[...seen].map(([k, n]) => `${k} x${n}`).join('; ') || 'none'}`);
}

const test = clusterSuite('cluster', {
  schema: uid('t_cluster_'), prefix: uid('tcl'), sweepMs: SWEEP_MS, beforeStop: logWarnings,
  env: {
    LOG_LEVEL: 'warn', OFFER_BATCH_CRITICAL: '30',
    DISPATCH_DEADLINE_MS: '500', DISPATCH_RETRY_MS: '200', REPORTS_PER_MINUTE: '100000',
    DEDUPE_RADIUS_M: '0', // separate emergencies at one spot
  },
});

test('accept race across processes: 30 heroes on three members, one winner (x5)', async ({ m, stores }) => {
  const started = Date.now();
  let single = 0;
  for (let k = 0; k < 5; k++) {
    const center = area();
    const heroes = await Promise.all(Array.from({ length: 30 }, (_, i) => heroOnline(m[i % 3]!, center, 0.05 + i * 0.04)));
    await matchable(m[0]!, heroes, 10_000);
    const civ = await stores.token('civilian', uid('civ-'));
    const { status, incident } = await report(m[k % 3]!, civ, { kind: 'fire', severity: 'critical', location: center, description: `race ${k}` });
    assert.is(status, 201, JSON.stringify(incident));
    const offers = await Promise.all(heroes.map((h) => offerOf(h, incident.id)));
    assert.is(new Set(offers.map((o) => o.offerId)).size, 30, 'one offer per hero');

    const acks = await Promise.all(heroes.map((h, i) => h.client.ask<Ack>('offer:accept', { offerId: offers[i]!.offerId })));
    const winners = acks.flatMap((a, i) => (a.ok ? [i] : []));
    assert.is(winners.length, 1, `incident ${k}: winners ${JSON.stringify(winners)}`);
    const w = winners[0]!;
    assert.equal(acks[w], { ok: true, incidentId: incident.id });
    for (const [i, a] of acks.entries()) if (i !== w) assert.equal(a, { ok: false, reason: 'taken' }, `hero ${i} on member ${i % 3}`);
    assert.equal((await activeOn(stores, incident.id)).map((r) => r.hero_id), [heroes[w]!.id]);
    const offerRows = await stores.sql<{ state: string; n: number }[]>`
      select state, count(*)::int as n from offers where incident_id = ${incident.id} group by 1 order by 1`;
    assert.equal(offerRows.map((r) => [r.state, r.n]), [['accepted', 1], ['withdrawn', 29]]);
    assert.is(await stateOf(stores, incident.id), 'assigned');
    // Every loser hears why, whichever member relayed the withdrawal.
    await Promise.all(heroes.map(async (h, i) => {
      if (i === w) return;
      const wd = await h.client.next('offer:withdrawn', (p: { offerId: string; reason: string }) => p.offerId === offers[i]!.offerId);
      assert.is(wd.reason, 'taken');
    }));
    single += 1;
    closeAll(...heroes);
  }
  console.log(`cluster: accept-race 5 incidents, ${single} single winners (30 heroes over 3 members each; ${Date.now() - started} ms)`);
});

test('a dispatcher on member 0 and the civilian on member 1 see every change of an incident run on member 2', async ({ m, stores }) => {
  const center = area();
  const civId = uid('civ-');
  const civToken = await stores.token('civilian', civId);
  const civilian = await connect(m[1]!, 'civilian', civToken);
  const dispatcher = await connect(m[0]!, 'dispatch', await stores.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  const hero = await heroOnline(m[2]!, center, 0.6);
  await matchable(m[2]!, [hero]);

  const { status, incident } = await report(m[2]!, civToken, { kind: 'medical', severity: 'high', location: center, description: 'cross-process watchers' });
  assert.is(status, 201);
  const offer = await offerOf(hero, incident.id);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: incident.id, state }), { ok: true, state });
  }
  for (const state of STATES) {
    await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === state, 10_000);
    await dispatcher.next('incident', (i) => i.id === incident.id && i.state === state, 10_000);
  }
  const resolved = await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'resolved');
  assert.equal(resolved.heroes.map((h: { id: string }) => h.id), [hero.id]);
  const [row] = await stores.sql<{ state: string; version: number }[]>`select state, version from incidents where id = ${incident.id}`;
  assert.equal({ ...row }, { state: 'resolved', version: 6 });
  const [asg] = await stores.sql<{ hero_id: string; state: string }[]>`select hero_id, state from assignments where incident_id = ${incident.id}`;
  assert.equal({ ...asg }, { hero_id: hero.id, state: 'completed' });

  // Every change reached both watchers once, in the order it was committed, although
  // they sit on other members than the one that committed it (the Redis adapter relays).
  assert.equal(dispatcherOrder(dispatcher, incident.id), [1, 2, 3, 4, 5, 6]);
  assert.equal(civilianOrder(civilian, incident.id), STATES);
  console.log('cluster: watchers 6 states seen in order by a dispatcher on member 0 and a civilian on member 1, hero on member 2');
  closeAll(civilian, dispatcher, hero);
});

test('hero position batches are not multiplied by the number of processes', async ({ m, stores }) => {
  const dispatcher = await connect(m[0]!, 'dispatch', await stores.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  const counts: number[] = [];
  for (const idx of [1, 2]) {
    const center = area();
    const hero = await heroOnline(m[idx]!, center, 0.5);
    await matchable(m[idx]!, [hero]);
    await dispatcher.next<HeroMapEntry[]>('heroes', (b) => b.some((e) => e.id === hero.id && e.location)); // the first ping's batch
    const mark: LatLng = { lat: center.lat + 0.001234 * idx, lng: center.lng + 0.004321 * idx };
    const isMark = (e: HeroMapEntry) => e.id === hero.id && e.location?.lat === mark.lat && e.location?.lng === mark.lng;
    hero.client.socket.emit('location', mark);
    await dispatcher.next<HeroMapEntry[]>('heroes', (b) => b.some(isMark));
    // A copy from another member would come on that member's batch timer: after two
    // more batch periods every member's timer has fired since the mark went out.
    await sleep(2 * HERO_BATCH_MS + 500);
    const batches = dispatcher.all<HeroMapEntry[]>('heroes');
    const hits = batches.flat().filter(isMark);
    assert.is(hits.length, 1, `position pinged once on member ${idx} appeared in ${hits.length} entries: ${JSON.stringify(hits)}`);
    for (const b of batches) assert.ok(b.filter((e) => e.id === hero.id).length <= 1, 'a hero at most once per batch');
    counts.push(hits.length);
    closeAll(hero);
  }
  console.log(`cluster: hero-batches pings on member 1 and 2 reached a dispatcher on member 0 in ${counts.join(' and ')} entry each (not 3)`);
  closeAll(dispatcher);
});

interface Sent { key: string; member: number; body: Record<string, unknown>; status: number | null; id?: string; error?: string }

test('SIGKILL of one member mid-run: heroes resume elsewhere from the truth, no report lost or stuck', async ({ cluster, m, stores }) => {
  const started = Date.now();
  const civId = uid('civ-');
  const civ = await stores.token('civilian', civId);
  // A hero on member 1 with an active assignment, already en route.
  const a1 = area();
  const busy = await heroOnline(m[1]!, a1, 0.4);
  await matchable(m[1]!, [busy]);
  const r1 = (await report(m[0]!, civ, { kind: 'crime', severity: 'high', location: a1 })).incident;
  const o1 = await offerOf(busy, r1.id);
  assert.equal(await busy.client.ask('offer:accept', { offerId: o1.offerId }), { ok: true, incidentId: r1.id });
  assert.equal(await busy.client.ask('incident:progress', { incidentId: r1.id, state: 'en_route' }), { ok: true, state: 'en_route' });
  // Three heroes on member 1 holding a pending offer each.
  const a2 = area();
  const waiting: OnlineHero[] = await Promise.all([0, 1, 2].map((i) => heroOnline(m[1]!, a2, 0.3 + i * 0.2)));
  await matchable(m[1]!, waiting);
  const r2 = (await report(m[2]!, civ, { kind: 'fire', severity: 'critical', location: a2 })).incident;
  const pending = await Promise.all(waiting.map((h) => offerOf(h, r2.id)));

  // Reports POSTed to every member in a loop, far from any hero.
  const far = area();
  const sent: Sent[] = [];
  let stop = false;
  const loop = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const s: Sent = { key: uid(`k${n}-${i}-`), member: (n + i) % 3, status: null,
        body: { kind: 'other', severity: 'low', location: { lat: far.lat + n * 0.01, lng: far.lng + i * 1e-4 }, description: `loop ${n}/${i}` } };
      sent.push(s);
      try {
        const res = await http(m[s.member]!, 'POST', '/v1/incidents', { token: civ, body: s.body, headers: { 'idempotency-key': s.key } });
        s.status = res.status;
        if (res.status === 200 || res.status === 201) s.id = res.body.id;
        else s.error = JSON.stringify(res.body);
      } catch (e) { s.error = String(e); await sleep(20); }
    }
  };
  const loops = [0, 1, 2, 3].map(loop);
  await eventually('reports answered by every member', () => [0, 1, 2].every((i) => sent.some((s) => s.id && s.member === i)) && sent.filter((s) => s.id).length >= 30, 10_000);

  const victim = cluster.members[1]!;
  victim.child.kill('SIGKILL');
  await Promise.race([victim.exited, sleep(10_000)]);
  assert.is(victim.child.signalCode, 'SIGKILL', 'member 1 died of our SIGKILL');
  await eventually('member 1 heroes disconnected', () => [busy, ...waiting].every((h) => !h.client.socket.connected), 10_000);
  // The loop keeps posting to all three after the kill: member 1 refuses now, members 0
  // and 2 answer; go on until both survivors answered more reports.
  const killedAt = sent.length;
  await eventually('reports answered by members 0 and 2 after the kill', () =>
    [0, 2].every((i) => sent.slice(killedAt).filter((s) => s.id && s.member === i).length >= 5), 10_000);
  stop = true;
  await Promise.race([Promise.all(loops), sleep(15_000)]);
  closeAll(busy, ...waiting);

  // The heroes reconnect to members 0 and 2 and resume from the truth.
  const busyBack = await connect(m[2]!, 'hero', busy.token);
  const s1 = await busyBack.next<HeroSession>('session');
  assert.is(s1.assignment?.incidentId, r1.id, `assigned hero's session: ${JSON.stringify(s1)}`);
  assert.is(s1.assignment?.incident.state, 'en_route');
  assert.is(s1.onDuty, true);
  const backs = await Promise.all(waiting.map((h, i) => connect(m[i % 2 === 0 ? 0 : 2]!, 'hero', h.token)));
  const sessions = await Promise.all(backs.map((c) => c.next<HeroSession>('session')));
  let listed = 0;
  for (const [i, s] of sessions.entries()) {
    assert.is(s.assignment, null);
    if (pending[i]!.expiresAt <= Date.now() + 500) continue; // expired meanwhile: nothing to list
    assert.ok(s.offers.some((o) => o.offerId === pending[i]!.offerId && o.incident.id === r2.id), `hero ${i} session: ${JSON.stringify(s.offers)}`);
    listed += 1;
  }
  assert.ok(listed > 0, 'the pending offers expired before the heroes came back: the test ran too slowly');

  // The assigned hero carries on through member 2.
  for (const state of ['on_scene', 'resolved'] as const) {
    assert.equal(await busyBack.ask('incident:progress', { incidentId: r1.id, state }), { ok: true, state });
  }
  assert.is(await stateOf(stores, r1.id), 'resolved');

  // A pending offer is accepted through another member; the other heroes hear it is taken.
  const winner = sessions.findIndex((s) => s.offers.some((o) => o.incident.id === r2.id));
  assert.equal(await backs[winner]!.ask('offer:accept', { offerId: pending[winner]!.offerId }), { ok: true, incidentId: r2.id });
  assert.equal((await activeOn(stores, r2.id)).map((r) => r.hero_id), [waiting[winner]!.id]);
  await Promise.all(backs.map(async (c, i) => {
    if (i === winner || !sessions[i]!.offers.length) return;
    assert.is((await c.next('offer:withdrawn', (p: { offerId: string; reason: string }) => p.offerId === pending[i]!.offerId)).reason, 'taken');
  }));

  // Every report answered 2xx is in the database, and none stays `reported`.
  const ok = sent.filter((s) => s.id);
  const ids = ok.map((s) => s.id!);
  const found = new Set((await stores.sql<{ id: string }[]>`select id from incidents where id in ${stores.sql(ids)}`).map((r) => r.id));
  assert.equal(ids.filter((id) => !found.has(id)), [], 'reports answered 2xx but missing');
  await eventually('no report left in reported', async () =>
    (await stores.sql<{ n: number }[]>`select count(*)::int as n from incidents where id in ${stores.sql(ids)} and state = 'reported'`)[0]?.n === 0, 10_000);
  // Those without an answer are retried with their own key on a live member: no duplicates.
  const unanswered = sent.filter((s) => !s.id);
  for (const s of unanswered) {
    const res = await http(m[2]!, 'POST', '/v1/incidents', { token: civ, body: s.body, headers: { 'idempotency-key': s.key } });
    assert.ok(res.status === 200 || res.status === 201, `retry of ${s.key} (${s.error}): ${res.status} ${JSON.stringify(res.body)}`);
  }
  const [mine] = await stores.sql<{ n: number }[]>`select count(*)::int as n from incidents where reported_by = ${civId}`;
  assert.is(mine?.n, sent.length + 2, 'one incident per idempotency key (+ the two hero incidents)');

  // Member 1 comes back on its port and is ready.
  await cluster.restart(1);
  assert.is((await http(m[1]!, 'GET', '/readyz')).status, 200);
  const perMember = [0, 1, 2].map((i) => ok.filter((s) => s.member === i).length).join('/');
  console.log(`cluster: sigkill member 1, ${ok.length} reports answered 2xx (${perMember} per member), 0 lost, ${unanswered.length} unanswered retried, `
    + `${listed}/3 pending offers resumed, assignment resumed on member 2 (${Date.now() - started} ms)`);
  closeAll(busyBack, ...backs);
});

test.run();
