// Pure tests of teams in the incident machine (PROTOCOL v1.1): each member moves on
// their own and the incident follows the least advanced; losing a member reopens only
// their slot; trails replay; a single-slot team behaves like an incident started before
// teams (test/incident.machine.test.ts covers those).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IncidentEffect, IncidentEvent, IncidentInput, PersistedIncident } from '../machines/incident.machine.ts';
import type { IncidentState } from '../shared/domain.ts';
import { auditType, replayIncident, startIncident, stepIncident } from '../machines/incident.logic.ts';
import { arrive, assign, CANCEL, enRoute, ok, release, resolve, round, walk } from './helpers/machine-steps.ts';

/** As incidents start from before teams: no `perMember`. */
const ONE: IncidentInput = { slots: [{ skill: null }], maxRounds: 2, severity: 'medium', reporter: 'alice' };
const TEAM: IncidentInput = { slots: [{ skill: 'medic' }, { skill: 'rescue' }, { skill: null }], maxRounds: 2, severity: 'high', reporter: 'alice', perMember: true };
const SOLO: IncidentInput = { ...ONE, perMember: true };
const m = (heroId: string, progress: 'assigned' | 'en_route' | 'on_scene' | 'resolved') => ({ heroId, progress });
const progressOf = (s: PersistedIncident) => s.context.members!.map((x) => (x ? `${x.heroId}:${x.progress}` : null));

test('teams: a new incident starts with every slot open', () => {
  const s = startIncident(TEAM);
  assert.equal(s.context.members, [null, null, null]);
  assert.equal(replayIncident(TEAM, []), s);
});

test('teams: an ASSIGN with slots left open withdraws only that slot\'s offers and keeps dispatching', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b', 'c')]);
  const first = ok(stepIncident(s, assign('a', 1)));
  assert.is(first.next.value, 'dispatching');
  assert.equal(first.effects, ['withdrawSlotOffers']);
  assert.equal(first.next.context.filled, [{ slot: 1, heroId: 'a' }]);
  assert.equal(first.next.context.members, [null, m('a', 'assigned'), null]);
  const fromReported = ok(stepIncident(startIncident(TEAM), assign('a', 0)));
  assert.is(fromReported.next.value, 'dispatching');
  assert.equal(fromReported.effects, ['withdrawSlotOffers']);
});

test('teams: members move at once while a slot is open; the incident stays dispatching', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b'), assign('a', 0), assign('b', 1)]);
  const arrived = ok(stepIncident(s, arrive('a')));
  assert.is(arrived.next.value, 'dispatching', 'a member may report on scene straight from assigned');
  assert.equal(arrived.effects, ['recordProgress']);
  const moving = ok(stepIncident(arrived.next, enRoute('b')));
  assert.is(moving.next.value, 'dispatching');
  assert.equal(progressOf(moving.next), ['a:on_scene', 'b:en_route', null]);
  const resolvedA = ok(stepIncident(moving.next, resolve('a')));
  assert.is(resolvedA.next.value, 'dispatching', 'a slot is still open');
  assert.equal(resolvedA.effects, ['completeMember']);
  assert.equal(resolvedA.next.context.filled, [{ slot: 1, heroId: 'b' }], 'the member who resolved is free');
  assert.equal(progressOf(resolvedA.next), ['a:resolved', 'b:en_route', null], 'and keeps the slot');
  // The escalated state lets members move too.
  const escalated = walk(startIncident(TEAM), [round(), round(), assign('a', 0)]);
  assert.is(escalated.value, 'escalated');
  assert.is(ok(stepIncident(escalated, enRoute('a'))).next.value, 'escalated');
});

test('teams: once every slot is filled the incident is the least advanced member', () => {
  let s = walk(startIncident(TEAM), [round('a', 'b', 'c'), assign('a', 0), arrive('a'), assign('b', 1), enRoute('b')]);
  const full = ok(stepIncident(s, assign('c', 2)));
  assert.is(full.next.value, 'assigned', 'the newest member has not set off');
  assert.equal(full.effects, ['withdrawOffers']);
  s = full.next;
  const steps: [IncidentEvent, IncidentState, IncidentEffect[]][] = [
    [enRoute('c'), 'en_route', ['recordProgress']], // b and c en route, a on scene
    [arrive('b'), 'en_route', ['recordProgress']], // c still en route
    [resolve('a'), 'en_route', ['completeMember']], // a done; c is the least advanced
    [arrive('c'), 'on_scene', ['recordProgress']],
    [resolve('c'), 'on_scene', ['completeMember']], // b still on scene
    [resolve('b'), 'resolved', ['completeMember']], // the last member resolved
  ];
  for (const [event, to, effects] of steps) {
    const step = ok(stepIncident(s, event));
    assert.is(step.next.value, to, `${event.type} by ${'heroId' in event ? event.heroId : ''}`);
    assert.equal(step.effects, effects);
    s = step.next;
  }
  assert.equal(s.context.filled, []);
  assert.equal(progressOf(s), ['a:resolved', 'b:resolved', 'c:resolved']);
});

test('teams: per-member rules (resolved needs on scene first; no step back; only the sender moves)', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b', 'c'), assign('a', 0), assign('b', 1), assign('c', 2), enRoute('a')]);
  assert.is(s.value, 'assigned', 'b and c have not set off');
  assert.equal(stepIncident(s, resolve('a')), { ok: false }, 'resolved needs on scene first');
  assert.equal(stepIncident(s, resolve('b')), { ok: false });
  assert.equal(stepIncident(s, enRoute('a')), { ok: false }, 'already en route');
  assert.equal(stepIncident(s, enRoute('zz')), { ok: false }, 'not a member');
  const b = ok(stepIncident(s, enRoute('b')));
  assert.equal(progressOf(b.next), ['a:en_route', 'b:en_route', 'c:assigned'], 'only the sender moved');
  const done = walk(s, [arrive('a'), resolve('a')]);
  for (const e of [enRoute('a'), arrive('a'), resolve('a')]) assert.equal(stepIncident(done, e), { ok: false }, `${e.type} after resolving`);
  assert.equal(stepIncident(done, release('a')), { ok: false }, 'a member who resolved is not released');
});

test('teams: a member who resolved keeps the slot: it is not offered again and they fill no other', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b'), assign('a', 0), arrive('a'), resolve('a')]);
  assert.equal(stepIncident(s, assign('x', 0)), { ok: false }, 'slot 0 stays filled');
  assert.equal(stepIncident(s, assign('a', 1)), { ok: false }, 'no hero in two slots');
  assert.is(ok(stepIncident(s, assign('b', 1))).next.value, 'dispatching');
});

test('teams: losing one member reopens only their slot; the others keep their progress', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b', 'c'), assign('a', 0), assign('b', 1), assign('c', 2), arrive('a'), enRoute('b'), enRoute('c')]);
  assert.is(s.value, 'en_route');
  const lost = ok(stepIncident(s, release('b')));
  assert.is(lost.next.value, 'dispatching');
  assert.equal(lost.effects, ['requestDispatch']);
  assert.equal(lost.next.context.filled, [{ slot: 0, heroId: 'a' }, { slot: 2, heroId: 'c' }]);
  assert.equal(progressOf(lost.next), ['a:on_scene', null, 'c:en_route']);
  assert.is(lost.next.context.round, 0);
  assert.equal(stepIncident(lost.next, arrive('b')), { ok: false }, 'the released member is fenced out');
  // The slot is filled again; the team completes and resolves.
  const refilled = ok(stepIncident(walk(lost.next, [round('d')]), assign('d', 1)));
  assert.is(refilled.next.value, 'assigned');
  const end = walk(refilled.next, [arrive('d'), arrive('c'), resolve('a'), resolve('c'), resolve('d')]);
  assert.is(end.value, 'resolved');
  // A release while dispatching (some slot open) keeps dispatching.
  const partial = walk(startIncident(TEAM), [round('a', 'b'), assign('a', 0), assign('b', 1)]);
  const again = ok(stepIncident(partial, release('a')));
  assert.is(again.next.value, 'dispatching');
  assert.equal(progressOf(again.next), [null, 'b:assigned', null]);
});

test('teams: a cancel releases the active members; those who resolved stay recorded', () => {
  const s = walk(startIncident(TEAM), [round('a', 'b'), assign('a', 0), assign('b', 1), arrive('a'), resolve('a')]);
  const c = ok(stepIncident(s, CANCEL));
  assert.is(c.next.value, 'cancelled');
  assert.equal(c.effects, ['withdrawOffers', 'releaseAssignments']);
  assert.equal(c.next.context.filled, []);
  assert.equal(progressOf(c.next), ['a:resolved', null, null]);
});

test('teams: a one-hero incident goes exactly the way it always did', () => {
  const events = [round('h1'), assign('h1', 0), enRoute('h1'), arrive('h1'), resolve('h1')];
  let s = startIncident(SOLO);
  let legacy = startIncident(ONE);
  for (const e of events) {
    const a = ok(stepIncident(s, e));
    const b = ok(stepIncident(legacy, e));
    assert.is(a.next.value, b.next.value, e.type);
    s = a.next;
    legacy = b.next;
  }
  for (const [state, e] of [['assigned', resolve('h1')], ['en_route', enRoute('h1')], ['on_scene', arrive('h1')]] as const) {
    const at = replayIncident(SOLO, events.slice(0, ['assigned', 'en_route', 'on_scene'].indexOf(state) + 2));
    assert.is(at.value, state);
    assert.equal(stepIncident(at, e), { ok: false }, `${e.type} in ${state}`);
  }
  // On scene straight from assigned, and back to dispatch on a release.
  const onScene = ok(stepIncident(replayIncident(SOLO, events.slice(0, 2)), arrive('h1')));
  assert.is(onScene.next.value, 'on_scene');
  assert.is(ok(stepIncident(onScene.next, release('h1'))).next.value, 'dispatching');
});

test('teams: JSON round-trip and replay give the same snapshot', () => {
  const events = [round('a', 'b', 'c'), assign('a', 0), arrive('a'), assign('b', 1), release('b'), round('d'), assign('d', 1), assign('c', 2), resolve('a'), enRoute('d')];
  const walked = walk(startIncident(TEAM), events);
  const copy = JSON.parse(JSON.stringify(walked)) as PersistedIncident;
  assert.equal(copy, walked);
  assert.equal(replayIncident(TEAM, events.map((e) => ({ ...e, type: auditType(e.type) }))), walked);
  for (const e of [enRoute('c'), arrive('d'), resolve('d'), release('c'), assign('x', 0)]) {
    assert.equal(stepIncident(copy, e), stepIncident(walked, e), e.type);
  }
});

test.run();
