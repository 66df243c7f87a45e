// Teams (PROTOCOL v1.1): incidents needing several heroes with complementary skills,
// through the real server: every slot filled exactly once in a 40-hero race, a hero
// fitting two slots fills one, per-member progress and the state that follows the
// least advanced member, one member lost and replaced, a dispatcher assigning into a
// slot, offers and views carrying slots, and a team incomplete at its deadline.
import * as assert from 'uvu/assert';
import type { Alert, IncidentView, LatLng } from '../shared/types.ts';
import { connect, eventually, http, sleep, type Client } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, east, heroOnline, matchable, registerHero, report, type OnlineHero } from './helpers/world.ts';

type Ack = { ok: boolean; incidentId?: string; reason?: string; state?: string };
interface Offer { offerId: string; incident: IncidentView; distanceKm: number; expiresAt: number; slot: number; skill: string | null }
type Ctx = { server: TestServer; disp: string };

const offerOf = (h: OnlineHero, incidentId: string, ms = 10_000) => h.client.next<Offer>('offer', (o) => o.incident.id === incidentId, ms);
const progress = (h: OnlineHero, incidentId: string, state: string) => h.client.ask<Ack>('incident:progress', { incidentId, state });
const read = async (ctx: Ctx, id: string): Promise<IncidentView> => (await http(ctx.server, 'GET', `/v1/incidents/${id}`, { token: ctx.disp })).body;
const offersOf = (server: TestServer, incidentId: string) => server.app.sql<{ id: string; hero_id: string; slot: number; state: string; reason: string | null }[]>`
  select id, hero_id, slot, state, reason from offers where incident_id = ${incidentId} order by slot, created_at`;
const activeOf = (server: TestServer, incidentId: string) => server.app.sql<{ hero_id: string; slot: number }[]>`
  select hero_id, slot from assignments where incident_id = ${incidentId} and state = 'active' order by slot`;
const members = (v: IncidentView) => v.assignments.filter((a) => a.state !== 'released').map((a) => [a.slot, a.heroId, a.progress]);

async function teamReport(server: TestServer, at: LatLng, severity: string, needs: { skill: string | null; count: number }[]): Promise<IncidentView> {
  const civ = await server.token('civilian', uid('civ-'));
  const { status, incident } = await report(server, civ, { kind: 'disaster', severity, location: at, needs });
  assert.is(status, 201, JSON.stringify(incident));
  return incident;
}

/** Keeps a hero's position fresh (the fast suite releases heroes silent for 2 s). */
function keepAlive(h: OnlineHero, at: LatLng, km: number): () => void {
  const timer = setInterval(() => h.client.socket.emit('location', east(at, km)), 300);
  return () => clearInterval(timer);
}

// ---- Suite 1: ordinary timings.
const test = serverSuite<Ctx>('teams', { OFFER_BATCH_CRITICAL: 8, DISPATCH_RETRY_MS: 200 });
test.before(async (ctx) => { ctx.disp = await dispatcherToken(ctx.server); });

test('a 5-slot team and 40 heroes accepting at once: every slot filled once, nobody twice, every loser told `taken`', async (ctx) => {
  const { server } = ctx;
  const center = area();
  // Mixed skills: 8 with none (nearest), 12 medics, 12 rescuers, 8 with both (farthest):
  // enough fitting heroes for 8 distinct offers in every slot.
  const skillsOf = (i: number) => (i < 8 ? [] : i < 20 ? ['medic'] : i < 32 ? ['rescue'] : ['medic', 'rescue']);
  const heroes = await Promise.all(Array.from({ length: 40 }, (_, i) => heroOnline(server, center, 0.1 + i * 0.03, { skills: skillsOf(i) })));
  await matchable(server, heroes, 10_000);
  const incident = await teamReport(server, center, 'critical', [{ skill: 'medic', count: 2 }, { skill: 'rescue', count: 2 }, { skill: null, count: 1 }]);
  assert.equal(incident.slots, [
    { slot: 0, skill: 'medic', heroId: null }, { slot: 1, skill: 'medic', heroId: null },
    { slot: 2, skill: 'rescue', heroId: null }, { slot: 3, skill: 'rescue', heroId: null }, { slot: 4, skill: null, heroId: null },
  ]);

  // Every slot is offered in the first round, OFFER_BATCH_CRITICAL heroes each, all distinct.
  const rows = await eventually('offers for every slot', async () => {
    const r = await offersOf(server, incident.id);
    return new Set(r.map((o) => o.slot)).size === 5 ? r : null;
  });
  assert.is(rows.length, 40, `all 40 heroes offered (${rows.length})`);
  assert.is(new Set(rows.map((o) => o.hero_id)).size, rows.length, 'no hero offered two slots');
  for (let slot = 0; slot < 5; slot++) assert.is(rows.filter((o) => o.slot === slot).length, 8, `slot ${slot}`);
  const byHero = new Map(heroes.map((h) => [h.id, h]));
  const offers = await Promise.all(rows.map((o) => offerOf(byHero.get(o.hero_id)!, incident.id)));
  for (const [i, o] of offers.entries()) {
    assert.is(o.offerId, rows[i]!.id);
    assert.is(o.slot, rows[i]!.slot);
    assert.is(o.skill, incident.slots[o.slot]!.skill);
    if (o.skill) assert.ok(skillsOf(heroes.indexOf(byHero.get(rows[i]!.hero_id)!)).includes(o.skill), 'offered only a slot the hero is skilled for');
  }

  const acks = await Promise.all(rows.map((o) => byHero.get(o.hero_id)!.client.ask<Ack>('offer:accept', { offerId: o.id })));
  const winners = rows.filter((_, i) => acks[i]!.ok);
  assert.is(winners.length, 5, JSON.stringify(acks));
  assert.equal(winners.map((w) => w.slot).sort(), [0, 1, 2, 3, 4], 'one winner per slot');
  for (const [i, a] of acks.entries()) {
    // Each hero held one pending offer and no assignment, and offers last 15 s: `taken` is the only true refusal.
    assert.equal(a, a.ok ? { ok: true, incidentId: incident.id } : { ok: false, reason: 'taken' }, `offer ${i}`);
  }
  const active = await activeOf(server, incident.id);
  assert.equal(active.map((a) => [a.slot, a.hero_id]), winners.map((w) => [w.slot, w.hero_id]).sort((a, b) => (a[0] as number) - (b[0] as number)));
  const after = await offersOf(server, incident.id);
  assert.is(after.filter((o) => o.state === 'accepted').length, 5);
  assert.is(after.filter((o) => o.state === 'withdrawn' && o.reason === 'taken').length, 35);
  const view = await read(ctx, incident.id);
  assert.is(view.state, 'assigned');
  assert.equal(view.slots.map((s) => s.heroId), active.map((a) => a.hero_id));
  closeAll(...heroes);
});

test('a hero with two fitting skills is offered one slot and fills one; the rare skill goes where only they fit', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const both = await heroOnline(server, center, 0.2, { skills: ['medic', 'rescue'] });
  const medic = await heroOnline(server, center, 2.5, { skills: ['medic'] });
  await matchable(server, [both, medic]);
  const incident = await teamReport(server, center, 'high', [{ skill: 'medic', count: 1 }, { skill: 'rescue', count: 1 }]);
  const [offerBoth, offerMedic] = await Promise.all([offerOf(both, incident.id), offerOf(medic, incident.id)]);
  // Nearest-first would send the nearer hero to slot 0 (medic) and leave rescue empty.
  assert.equal([offerBoth.slot, offerBoth.skill], [1, 'rescue']);
  assert.equal([offerMedic.slot, offerMedic.skill], [0, 'medic']);
  const pending = await server.app.sql`select count(*)::int as n from offers where hero_id = ${both.id} and state = 'pending'`;
  assert.is(pending[0]!.n, 1, 'one pending offer per hero');
  assert.equal(await both.client.ask('offer:accept', { offerId: offerBoth.offerId }), { ok: true, incidentId: incident.id });
  // The other slot's offer stands: filling slot 1 withdraws only slot 1's offers.
  assert.is((await server.app.sql`select state from offers where id = ${offerMedic.offerId}`)[0]!.state, 'pending');
  assert.is((await read(ctx, incident.id)).state, 'dispatching');
  assert.equal(await medic.client.ask('offer:accept', { offerId: offerMedic.offerId }), { ok: true, incidentId: incident.id });
  assert.equal((await activeOf(server, incident.id)).map((a) => [a.slot, a.hero_id]), [[0, medic.id], [1, both.id]]);
  const mine = await server.app.sql`select incident_id, slot from assignments where hero_id = ${both.id}`;
  assert.equal(mine.map((r) => [r.incident_id, r.slot]), [[incident.id, 1]]);
  assert.equal(await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: ctx.disp, body: { reason: 'test over' } }).then((r) => r.status), 200);
  closeAll(both, medic);
});

test('the incident follows the least advanced member and resolves with the last; each step is audited with its member', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const civId = uid('civ-');
  const civToken = await server.token('civilian', civId);
  const a = await heroOnline(server, center, 0.3, { skills: ['fire'] });
  const b = await heroOnline(server, center, 0.6, { skills: ['medic'] });
  await matchable(server, [a, b]);
  const { incident } = await report(server, civToken, { kind: 'fire', severity: 'medium', location: center, needs: [{ skill: 'fire', count: 1 }, { skill: 'medic', count: 1 }] });
  const civilian = await connect(server, 'civilian', civToken);
  const [oa, ob] = await Promise.all([offerOf(a, incident.id), offerOf(b, incident.id)]);
  assert.ok(await a.client.ask('offer:accept', { offerId: oa.offerId }));
  // A member already assigned is committed and moves at once; the incident is still dispatching.
  assert.equal(await progress(a, incident.id, 'on_scene'), { ok: true, state: 'dispatching' });
  assert.ok((await b.client.ask<Ack>('offer:accept', { offerId: ob.offerId })).ok);
  const status = await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'assigned');
  assert.equal(status.heroes.map((h: { id: string }) => h.id).sort(), [a.id, b.id].sort(), 'the civilian sees every member');

  const steps: [OnlineHero, string, string][] = [
    [b, 'resolved', 'invalid_transition'], // resolved needs on scene first, per member
    [b, 'en_route', 'en_route'],
    [a, 'on_scene', 'en_route'], // a repeat changes nothing
    [b, 'on_scene', 'on_scene'],
    [a, 'resolved', 'on_scene'], // a is done; b still on scene
    [a, 'resolved', 'on_scene'], // a repeat of a won command
  ];
  for (const [h, to, expected] of steps) {
    const ack = await progress(h, incident.id, to);
    assert.equal(ack, expected === 'invalid_transition' ? { ok: false, reason: 'invalid_transition' } : { ok: true, state: expected }, `${h === a ? 'a' : 'b'} → ${to}`);
  }
  assert.equal(await progress(a, incident.id, 'on_scene'), { ok: false, reason: 'invalid_transition' }, 'no step back after resolving');
  const mid = await read(ctx, incident.id);
  assert.equal(members(mid), [[0, a.id, 'resolved'], [1, b.id, 'on_scene']]);
  assert.equal(mid.assignments.map((x) => x.state), ['completed', 'active']);
  assert.equal(mid.slots.map((s) => s.heroId), [a.id, b.id], 'the slot stays filled by the member who resolved');
  assert.is((await http(server, 'GET', `/v1/heroes/${a.id}`, { token: a.token })).body.status, 'available', 'a is free again');
  assert.equal(await progress(b, incident.id, 'resolved'), { ok: true, state: 'resolved' });
  await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'resolved');

  const trail = (await http(server, 'GET', `/v1/incidents/${incident.id}/events`, { token: ctx.disp })).body.items as { type: string; actor: string; to: string; data: { heroId?: string } }[];
  const memberSteps = trail.filter((e) => ['EN_ROUTE', 'ARRIVE', 'RESOLVE'].includes(e.type)).map((e) => [e.type, e.data.heroId, e.actor, e.to]);
  assert.equal(memberSteps, [
    ['ARRIVE', a.id, `hero:${a.id}`, 'dispatching'],
    ['EN_ROUTE', b.id, `hero:${b.id}`, 'en_route'],
    ['ARRIVE', b.id, `hero:${b.id}`, 'on_scene'],
    ['RESOLVE', a.id, `hero:${a.id}`, 'on_scene'],
    ['RESOLVE', b.id, `hero:${b.id}`, 'resolved'],
  ]);
  closeAll(a, b, civilian);
});

test('a dispatcher assigns into a chosen slot; a hero without the skill is refused 409', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const incident = await teamReport(server, center, 'low', [{ skill: 'hazmat', count: 1 }, { skill: null, count: 1 }, { skill: 'medic', count: 1 }]);
  const [plain, medic, hazmat, other] = await Promise.all([
    heroOnline(server, area(), 0.1), heroOnline(server, area(), 0.1, { skills: ['medic'] }),
    heroOnline(server, area(), 0.1, { skills: ['hazmat', 'medic'] }), heroOnline(server, area(), 0.1),
  ]);
  await matchable(server, [plain, medic, hazmat, other]); // their positions known: hand assignments get an ETA
  const assign = (body: Record<string, unknown>) => http(server, 'POST', `/v1/incidents/${incident.id}/assign`, { token: ctx.disp, body });
  const reassign = (body: Record<string, unknown>) => http(server, 'POST', `/v1/incidents/${incident.id}/reassign`, { token: ctx.disp, body });

  const refused = await assign({ heroId: plain.id, slot: 0 });
  assert.is(refused.status, 409);
  assert.is(refused.body.code, 'conflict');
  assert.match(refused.body.detail, /slot 0 needs hazmat/);
  const intoSlot = await assign({ heroId: medic.id, slot: 1 }); // an `any` slot takes anyone
  assert.is(intoSlot.status, 200, JSON.stringify(intoSlot.body));
  assert.equal(intoSlot.body.slots.map((s: { heroId: string | null }) => s.heroId), [null, medic.id, null]);
  assert.is(intoSlot.body.state, 'dispatching');
  assert.is((await assign({ heroId: other.id, slot: 1 })).status, 409, 'slot 1 is filled');
  assert.is((await assign({ heroId: other.id, slot: 7 })).status, 409, 'no slot 7');
  assert.is((await assign({ heroId: other.id, slot: 10 })).status, 400, 'beyond any incident');
  const noFit = await assign({ heroId: other.id });
  assert.is(noFit.status, 409, 'no open slot fits a hero without skills');
  assert.match(noFit.body.detail, /slot 0 needs hazmat, slot 2 needs medic/);
  // Without a slot: the first open slot whose skill the hero has.
  const first = await assign({ heroId: hazmat.id });
  assert.is(first.status, 200);
  assert.equal(first.body.slots.map((s: { heroId: string | null }) => s.heroId), [hazmat.id, medic.id, null]);
  // A hero never seen: the team is complete but its arrival unknown.
  const ghost = await registerHero(server, { skills: ['medic'] });
  const blind = await assign({ heroId: ghost.id });
  assert.equal([blind.status, blind.body.state, blind.body.teamEtaAt], [200, 'assigned', null]);
  assert.is((await reassign({ reason: 'not reachable', heroId: ghost.id })).status, 200);
  // A hand assignment knows the hero's ETA from where they were last seen (their own area, far from here).
  const seen = await heroOnline(server, area(), 0.1, { skills: ['medic'] });
  await matchable(server, [seen]);
  const last = await assign({ heroId: seen.id });
  assert.equal([last.body.state, last.body.slots[2].heroId], ['assigned', seen.id]);
  assert.ok(typeof last.body.teamEtaAt === 'number' && last.body.teamEtaAt > Date.now() + 3_600_000, `teamEtaAt ${last.body.teamEtaAt}`);
  // The dispatcher releases one member: only that slot reopens.
  const released = await reassign({ reason: 'wrong unit', heroId: medic.id });
  assert.is(released.status, 200);
  assert.equal(released.body.slots.map((s: { heroId: string | null }) => s.heroId), [hazmat.id, null, last.body.slots[2].heroId]);
  assert.is(released.body.state, 'dispatching');
  assert.is(released.body.teamEtaAt, null, 'a slot is open again');
  assert.is((await reassign({ reason: 'x', heroId: plain.id })).status, 409, 'not a member');
  assert.is((await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: ctx.disp, body: { reason: 'test over' } })).status, 200);
  closeAll(plain, medic, hazmat, other, seen);
});

test('offers and views carry slots, member progress and the team ETA (the slowest member)', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const near = await heroOnline(server, center, 0.5, { skills: ['rescue'] });
  const far = await heroOnline(server, center, 3, { skills: ['rescue'] });
  await matchable(server, [near, far]);
  const incident = await teamReport(server, center, 'medium', [{ skill: 'rescue', count: 2 }]);
  assert.equal([incident.slots.length, incident.teamEtaAt, incident.assignments], [2, null, []]);
  const [on, of] = await Promise.all([offerOf(near, incident.id), offerOf(far, incident.id)]);
  assert.equal([on.skill, of.skill], ['rescue', 'rescue']);
  assert.equal([on.slot, of.slot].sort(), [0, 1]);
  // A reconnecting hero app gets its pending offer back with its slot and skill.
  const again = await connect(server, 'hero', near.token);
  const session = await again.next('session');
  assert.equal(session.offers.map((o: Offer) => [o.offerId, o.slot, o.skill]), [[on.offerId, on.slot, 'rescue']]);
  again.close();

  assert.ok((await near.client.ask<Ack>('offer:accept', { offerId: on.offerId })).ok);
  const partial = await read(ctx, incident.id);
  assert.is(partial.teamEtaAt, null, 'unknown while a slot is open');
  assert.equal(members(partial), [[on.slot, near.id, 'assigned']]);
  assert.ok((await far.client.ask<Ack>('offer:accept', { offerId: of.offerId })).ok);
  assert.equal(await progress(near, incident.id, 'en_route'), { ok: true, state: 'assigned' });
  const full = await read(ctx, incident.id);
  assert.equal(members(full).sort(), [[on.slot, near.id, 'en_route'], [of.slot, far.id, 'assigned']].sort());
  // ETA: distance × detour / speed for a ground hero (1.4, 50 km/h), recorded per member.
  const rows = await server.app.sql<{ hero_id: string; eta_s: number; assigned_at: Date }[]>`select hero_id, eta_s, assigned_at from assignments where incident_id = ${incident.id}`;
  const eta = new Map(rows.map((r) => [r.hero_id, r.eta_s]));
  assert.ok(Math.abs(eta.get(near.id)! - (0.5 * 1.4 / 50) * 3600) <= 3, `near eta ${eta.get(near.id)}`);
  assert.ok(Math.abs(eta.get(far.id)! - (3 * 1.4 / 50) * 3600) <= 3, `far eta ${eta.get(far.id)}`);
  assert.is(full.teamEtaAt, Math.max(...rows.map((r) => r.assigned_at.getTime() + r.eta_s * 1000)), 'the slowest member');
  assert.is(full.teamEtaAt, rows.find((r) => r.hero_id === far.id)!.assigned_at.getTime() + eta.get(far.id)! * 1000);
  assert.is((await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: ctx.disp, body: { reason: 'test over' } })).status, 200);
  closeAll(near, far);
});

test.run();

// ---- Suite 2: short deadlines, and heroes lost after 2 s of silence.
const FAST = {
  OFFER_TIMEOUT_MS: 2_000, DISPATCH_DEADLINE_MS: 500, SWEEP_INTERVAL_MS: 300, ESCALATED_RETRY_MS: 1_000,
  DISPATCH_RETRY_MS: 200, HERO_LOST_AFTER_MS: 2_000,
};
const fast = serverSuite<Ctx>('teams-deadline', FAST);
fast.before(async (ctx) => { ctx.disp = await dispatcherToken(ctx.server); });

const alertsFor = (c: Client, incidentId: string, type: string) => c.all<Alert>('alert').filter((a) => a.incidentId === incidentId && a.type === type);

fast('a team incomplete at its deadline raises `team_incomplete` once, naming the open slot, and is filled later', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const dispatcher = await connect(server, 'dispatch', ctx.disp);
  await dispatcher.next('snapshot');
  const rescuer = await heroOnline(server, center, 0.3, { skills: ['rescue'] });
  const stops = [keepAlive(rescuer, center, 0.3)];
  await matchable(server, [rescuer]);
  const incident = await teamReport(server, center, 'high', [{ skill: 'rescue', count: 1 }, { skill: 'medic', count: 1 }]);
  const offer = await offerOf(rescuer, incident.id);
  assert.ok((await rescuer.client.ask<Ack>('offer:accept', { offerId: offer.offerId })).ok);

  const alert = await dispatcher.next<Alert>('alert', (a) => a.type === 'team_incomplete' && a.incidentId === incident.id, 8_000);
  assert.match(alert.detail, /1 of 2 members assigned/);
  assert.match(alert.detail, /slot 1 \(medic\)/);
  assert.not.match(alert.detail, /slot 0/);
  // The partial team is not released: the rescuer keeps the slot and may move.
  const moved = await progress(rescuer, incident.id, 'en_route');
  assert.ok(moved.ok && ['dispatching', 'escalated'].includes(moved.state!), JSON.stringify(moved));
  assert.equal((await activeOf(server, incident.id)).map((a) => a.hero_id), [rescuer.id]);
  // Filling goes on at the slower pace; dispatchers are told once per episode.
  await sleep(3 * FAST.ESCALATED_RETRY_MS);
  assert.is(alertsFor(dispatcher, incident.id, 'team_incomplete').length, 1);
  assert.is(alertsFor(dispatcher, incident.id, 'incident_stuck').length, 0, 'an incomplete team is not reported stuck');

  const medic = await heroOnline(server, center, 1.2, { skills: ['medic'] });
  stops.push(keepAlive(medic, center, 1.2));
  const late = await offerOf(medic, incident.id, 4 * FAST.ESCALATED_RETRY_MS);
  assert.equal([late.slot, late.skill], [1, 'medic']);
  assert.ok((await medic.client.ask<Ack>('offer:accept', { offerId: late.offerId })).ok);
  const full = await read(ctx, incident.id);
  assert.is(full.state, 'assigned', 'the newest member has not set off');
  assert.equal(members(full), [[0, rescuer.id, 'en_route'], [1, medic.id, 'assigned']]);
  assert.is((await server.app.sql`select team_alerted_at from incidents where id = ${incident.id}`)[0]!.team_alerted_at, null, 'the episode is over');
  assert.is((await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: ctx.disp, body: { reason: 'test over' } })).status, 200);
  stops.forEach((stop) => stop());
  closeAll(dispatcher, rescuer, medic);
});

fast('a member lost mid-rescue (dispatcher, then the sweeper) reopens only their slot; the team completes again', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const heroes = await Promise.all([
    heroOnline(server, center, 0.2, { skills: ['medic'] }), heroOnline(server, center, 0.4, { skills: ['rescue'] }),
    heroOnline(server, center, 0.6, { skills: ['rescue'] }),
  ]);
  const [medic, rescuer, spare] = heroes as [OnlineHero, OnlineHero, OnlineHero];
  const alive = new Map(heroes.map((h, i) => [h.id, keepAlive(h, center, 0.2 + i * 0.2)]));
  await matchable(server, heroes);
  // `spare` is busy elsewhere at first, so the team is medic + rescuer.
  const other = await teamReport(server, area(), 'low', [{ skill: null, count: 1 }]);
  const hold = await http(server, 'POST', `/v1/incidents/${other.id}/assign`, { token: ctx.disp, body: { heroId: spare.id } });
  assert.is(hold.status, 200);
  const incident = await teamReport(server, center, 'medium', [{ skill: 'medic', count: 1 }, { skill: 'rescue', count: 1 }]);
  const [om, or] = await Promise.all([offerOf(medic, incident.id), offerOf(rescuer, incident.id)]);
  assert.ok((await medic.client.ask<Ack>('offer:accept', { offerId: om.offerId })).ok);
  assert.ok((await rescuer.client.ask<Ack>('offer:accept', { offerId: or.offerId })).ok);
  assert.equal(await progress(medic, incident.id, 'on_scene'), { ok: true, state: 'assigned' });
  assert.equal(await progress(rescuer, incident.id, 'en_route'), { ok: true, state: 'en_route' });

  // 1. The dispatcher releases the rescuer only.
  const released = await http(server, 'POST', `/v1/incidents/${incident.id}/reassign`, { token: ctx.disp, body: { reason: 'vehicle broke down', heroId: rescuer.id } });
  assert.is(released.status, 200);
  assert.is(released.body.state, 'dispatching');
  assert.equal(members(released.body), [[0, medic.id, 'on_scene']]);
  assert.equal(released.body.assignments.find((a: { heroId: string }) => a.heroId === rescuer.id).progress, 'en_route', 'where the released member had got to');
  const notice = await rescuer.client.next('assignment:released', (p) => p.incidentId === incident.id);
  assert.is(notice.reason, 'reassigned');
  assert.equal(await progress(rescuer, incident.id, 'on_scene'), { ok: false, reason: 'released' });
  // The slot is dispatched again, to a fitting hero not tried on it yet.
  assert.is((await http(server, 'POST', `/v1/incidents/${other.id}/cancel`, { token: ctx.disp, body: { reason: 'freed' } })).status, 200);
  const second = await offerOf(spare, incident.id);
  assert.equal([second.slot, second.skill], [1, 'rescue']);
  assert.ok((await spare.client.ask<Ack>('offer:accept', { offerId: second.offerId })).ok);
  const whole = await read(ctx, incident.id);
  assert.is(whole.state, 'assigned');
  assert.equal(members(whole), [[0, medic.id, 'on_scene'], [1, spare.id, 'assigned']]);

  // 2. The spare goes silent: the sweeper releases them alone.
  assert.equal(await progress(spare, incident.id, 'en_route'), { ok: true, state: 'en_route' });
  alive.get(spare.id)!();
  const lost = await eventually('the silent member released', async () => {
    const v = await read(ctx, incident.id);
    return v.state === 'dispatching' ? v : null;
  }, 8_000);
  assert.equal(members(lost), [[0, medic.id, 'on_scene']]);
  const row = (await server.app.sql`select reason from assignments where incident_id = ${incident.id} and hero_id = ${spare.id}`)[0]!;
  assert.is(row.reason, 'hero_unreachable');
  assert.equal(await progress(spare, incident.id, 'on_scene'), { ok: false, reason: 'released' });

  // 3. The team completes again with a new rescuer and resolves.
  const fresh = await heroOnline(server, center, 0.5, { skills: ['rescue'] });
  alive.set(fresh.id, keepAlive(fresh, center, 0.5));
  const third = await offerOf(fresh, incident.id, 8_000);
  assert.ok((await fresh.client.ask<Ack>('offer:accept', { offerId: third.offerId })).ok);
  assert.equal(await progress(fresh, incident.id, 'on_scene'), { ok: true, state: 'on_scene' });
  assert.equal(await progress(medic, incident.id, 'resolved'), { ok: true, state: 'on_scene' });
  assert.equal(await progress(fresh, incident.id, 'resolved'), { ok: true, state: 'resolved' });
  const end = await read(ctx, incident.id);
  assert.equal(end.assignments.map((a) => [a.heroId, a.state, a.progress]), [
    [medic.id, 'completed', 'resolved'], [rescuer.id, 'released', 'en_route'],
    [spare.id, 'released', 'en_route'], [fresh.id, 'completed', 'resolved'],
  ]);
  assert.equal(end.slots.map((s) => s.heroId), [medic.id, fresh.id]);
  alive.forEach((stop) => stop());
  closeAll(...heroes, fresh);
});

fast.run();
