// Pure tests of the incident machine through its helpers (startIncident, stepIncident,
// replayIncident): every accepted and refused transition, JSON round-trips, replay,
// linked reports (LINK, WITHDRAW, TOP_UP) and incidents started before them. Teams
// (per-member progress) are in incident.team.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  INCIDENT_EFFECTS,
  type FilledSlot, type IncidentEffect, type IncidentEvent, type IncidentEventType, type IncidentInput,
  type PersistedIncident,
} from '../machines/incident.machine.ts';
import { auditType, fromAudit, replayIncident, startIncident, stepIncident } from '../machines/incident.logic.ts';
import { INCIDENT_STATES, type IncidentState, type Severity } from '../shared/domain.ts';

const TWO: IncidentInput = { slots: [{ skill: 'medic' }, { skill: null }], maxRounds: 2, severity: 'medium', reporter: 'alice' };
const ONE: IncidentInput = { slots: [{ skill: null }], maxRounds: 2, severity: 'medium', reporter: 'alice' };
/** As trails written before linked reports start: no severity, no reporter. */
const LEGACY: IncidentInput = { slots: [{ skill: null }], maxRounds: 2 };
const ALICE = [{ civilianId: 'alice', severity: 'medium' as Severity }];

import {
  arrive, assign, CANCEL, enRoute, link, ok, release, resolve, round, topUp, walk, withdraw,
} from './helpers/machine-steps.ts';

const h1 = { slot: 0, heroId: 'h1' };
const h2 = { slot: 1, heroId: 'h2' };
const h3 = { slot: 1, heroId: 'h3' };

// One snapshot per state, all from the two-slot incident; h1 holds slot 0 where one is held.
// TWO and ONE start as trails written before teams did (no `perMember`): their heroes
// move the incident as a whole. Teams are in incident.team.test.ts.
const start = startIncident(TWO);
const dispatching = walk(start, [round('h1', 'h2'), assign('h1', 0)]);
const assigned = walk(dispatching, [assign('h2', 1)]);
const at: Record<IncidentState, PersistedIncident> = {
  reported: start,
  dispatching,
  escalated: walk(start, [round(), round(), assign('h1', 0)]),
  assigned,
  en_route: walk(assigned, [enRoute('h1')]),
  on_scene: walk(assigned, [arrive('h1')]),
  resolved: walk(assigned, [arrive('h1'), resolve('h1')]),
  cancelled: walk(dispatching, [CANCEL]),
};

test('fixtures: each snapshot is in the state it is filed under', () => {
  assert.equal(Object.keys(at).sort(), [...INCIDENT_STATES].sort());
  for (const s of INCIDENT_STATES) assert.is(at[s].value, s, s);
  assert.equal(start.context, { slots: TWO.slots, filled: [], round: 0, maxRounds: 2, severity: 'medium', reports: ALICE, roundSeverity: 'medium' });
  assert.equal(at.escalated.context.round, 2);
  assert.equal(at.escalated.context.filled, [h1]);
  assert.equal(at.resolved.context.filled, [h1, h2]);
});

// ---- 1 + 2. The full state × event matrix, written by hand from the machine definition.
// One representative event per type; `false` = refused, otherwise the exact outcome.
// LINK is a critical report by bob (a rise from medium); WITHDRAW is alice's, the only
// report, so it cancels; TOP_UP is refused wherever the severity has not risen.
const EVENTS: Record<IncidentEventType, IncidentEvent> = {
  ROUND: round('h3'), TOP_UP: topUp('h3'), ASSIGN: assign('h3', 1), EN_ROUTE: enRoute('h1'), ARRIVE: arrive('h1'),
  RESOLVE: resolve('h1'), RELEASE: release('h1'), CANCEL, LINK: link('bob', 'critical'), WITHDRAW: withdraw('alice'),
};
type Outcome = false | {
  to: IncidentState; effects: IncidentEffect[]; round: number; filled: FilledSlot[];
  changes?: Partial<PersistedIncident['context']>;
};
const cancelled = (r: number, changes?: Partial<PersistedIncident['context']>): Outcome =>
  ({ to: 'cancelled', effects: ['withdrawOffers', 'releaseAssignments'], round: r, filled: [], ...(changes ? { changes } : {}) });
const withdrawn = (r: number): Outcome => cancelled(r, { reports: [] });
const BOB_LINKED = { severity: 'critical' as Severity, reports: [...ALICE, { civilianId: 'bob', severity: 'critical' as Severity }] };
const linked = (to: IncidentState, r: number, filled: FilledSlot[], effects: IncidentEffect[]): Outcome => ({ to, effects, round: r, filled, changes: BOB_LINKED });
const refusedAll = {
  ROUND: false, TOP_UP: false, ASSIGN: false, EN_ROUTE: false, ARRIVE: false, RESOLVE: false, RELEASE: false, CANCEL: false, LINK: false, WITHDRAW: false,
} as const;

const MATRIX: Record<IncidentState, Record<IncidentEventType, Outcome>> = {
  reported: {
    ROUND: { to: 'dispatching', effects: [], round: 1, filled: [] },
    ASSIGN: { to: 'dispatching', effects: [], round: 0, filled: [h3] },
    EN_ROUTE: false, ARRIVE: false, RESOLVE: false,
    RELEASE: false, // nobody holds a slot, and reported has no RELEASE handler
    CANCEL: cancelled(0),
    TOP_UP: false, LINK: linked('reported', 0, [], ['reprioritise']), WITHDRAW: withdrawn(0),
  },
  dispatching: {
    ROUND: { to: 'dispatching', effects: [], round: 2, filled: [h1] },
    ASSIGN: { to: 'assigned', effects: ['withdrawOffers'], round: 1, filled: [h1, h3] },
    EN_ROUTE: false, ARRIVE: false, RESOLVE: false,
    RELEASE: { to: 'dispatching', effects: ['requestDispatch'], round: 0, filled: [] },
    CANCEL: cancelled(1),
    TOP_UP: false, LINK: linked('dispatching', 1, [h1], ['reprioritise']), WITHDRAW: withdrawn(1),
  },
  escalated: {
    ROUND: { to: 'escalated', effects: [], round: 3, filled: [h1] },
    ASSIGN: { to: 'assigned', effects: ['withdrawOffers'], round: 2, filled: [h1, h3] },
    EN_ROUTE: false, ARRIVE: false, RESOLVE: false,
    RELEASE: { to: 'dispatching', effects: ['requestDispatch'], round: 0, filled: [] },
    CANCEL: cancelled(2),
    TOP_UP: false, LINK: linked('escalated', 2, [h1], ['reprioritise']), WITHDRAW: withdrawn(2),
  },
  assigned: {
    ROUND: false, ASSIGN: false,
    EN_ROUTE: { to: 'en_route', effects: [], round: 1, filled: [h1, h2] },
    ARRIVE: { to: 'on_scene', effects: [], round: 1, filled: [h1, h2] },
    RESOLVE: false,
    RELEASE: { to: 'dispatching', effects: ['requestDispatch'], round: 0, filled: [h2] },
    CANCEL: cancelled(1),
    TOP_UP: false, LINK: linked('assigned', 1, [h1, h2], []), WITHDRAW: withdrawn(1),
  },
  en_route: {
    ROUND: false, ASSIGN: false, EN_ROUTE: false,
    ARRIVE: { to: 'on_scene', effects: [], round: 1, filled: [h1, h2] },
    RESOLVE: false,
    RELEASE: { to: 'dispatching', effects: ['requestDispatch'], round: 0, filled: [h2] },
    CANCEL: cancelled(1),
    TOP_UP: false, LINK: linked('en_route', 1, [h1, h2], []), WITHDRAW: withdrawn(1),
  },
  on_scene: {
    ROUND: false, ASSIGN: false, EN_ROUTE: false, ARRIVE: false,
    RESOLVE: { to: 'resolved', effects: ['completeAssignments'], round: 1, filled: [h1, h2] },
    RELEASE: { to: 'dispatching', effects: ['requestDispatch'], round: 0, filled: [h2] },
    CANCEL: cancelled(1),
    TOP_UP: false, LINK: linked('on_scene', 1, [h1, h2], []), WITHDRAW: withdrawn(1),
  },
  resolved: refusedAll,
  cancelled: refusedAll,
};

for (const state of INCIDENT_STATES) {
  for (const [type, event] of Object.entries(EVENTS) as [IncidentEventType, IncidentEvent][]) {
    const expected = MATRIX[state][type];
    test(`matrix: ${type} in ${state} → ${expected ? expected.to : 'refused'}`, () => {
      const before = structuredClone(at[state]);
      const step = stepIncident(at[state], event);
      assert.equal(at[state], before, 'stepIncident must not mutate its input');
      if (!expected) return assert.equal(step, { ok: false });
      const { next, effects } = ok(step);
      assert.is(next.value, expected.to);
      assert.equal(effects, expected.effects);
      assert.equal(next.context, { ...before.context, round: expected.round, filled: expected.filled, ...expected.changes });
    });
  }
}

// ---- 1. Accepted transitions that need a specific context.
const accepted: [string, PersistedIncident, IncidentEvent, IncidentState, IncidentEffect[], Partial<PersistedIncident['context']>][] = [
  ['single slot: ASSIGN from reported fills the last slot', startIncident(ONE), assign('h1', 0), 'assigned', ['withdrawOffers'], { filled: [h1] }],
  ['ROUND with offers, at maxRounds, does not escalate', walk(startIncident(ONE), [round('x')]), round('y'), 'dispatching', [], { round: 2 }],
  ['ROUND with offers after maxRounds rounds escalates', walk(startIncident(ONE), [round('x'), round('y')]), round('z'), 'escalated', ['alertNoHeroFound'], { round: 3 }],
  ['ROUND without offers below maxRounds stays dispatching', walk(startIncident({ ...ONE, maxRounds: 3 }), [round()]), round(), 'dispatching', [], { round: 2 }],
  ['ROUND without offers reaching maxRounds escalates', walk(startIncident(ONE), [round('x')]), round(), 'escalated', ['alertNoHeroFound'], { round: 2 }],
  ['ROUND without offers from reported with maxRounds 1 escalates', startIncident({ ...ONE, maxRounds: 1 }), round(), 'escalated', ['alertNoHeroFound'], { round: 1 }],
  ['ROUND without offers in escalated stays escalated, no second alert', walk(startIncident(ONE), [round(), round()]), round(), 'escalated', [], { round: 3 }],
  ['single slot: ASSIGN in escalated goes to assigned', walk(startIncident(ONE), [round(), round()]), assign('h1', 0), 'assigned', ['withdrawOffers'], { filled: [h1] }],
  ['RELEASE naming a holder and a stranger is accepted', at.on_scene, release('zz', 'h2'), 'dispatching', ['requestDispatch'], { filled: [h1], round: 0 }],
  ['RELEASE of every holder from assigned empties the slots', at.assigned, release('h1', 'h2'), 'dispatching', ['requestDispatch'], { filled: [], round: 0 }],
  ['the second hero may drive progress too', at.assigned, enRoute('h2'), 'en_route', [], {}],
  ['CANCEL in escalated', at.escalated, CANCEL, 'cancelled', ['withdrawOffers', 'releaseAssignments'], { filled: [] }],
  // Linked reports: severity only rises, and only a rise while heroes are sought re-prioritises.
  ['LINK of a lower severity keeps the higher one', at.dispatching, link('bob', 'low'), 'dispatching', [],
    { reports: [...ALICE, { civilianId: 'bob', severity: 'low' }] }],
  ['LINK of the same severity asks for nothing', at.reported, link('bob', 'medium'), 'reported', [],
    { reports: [...ALICE, { civilianId: 'bob', severity: 'medium' }] }],
  ['LINK by the reporter again is a second report of theirs', at.dispatching, link('alice', 'high'), 'dispatching', ['reprioritise'],
    { severity: 'high', reports: [...ALICE, { civilianId: 'alice', severity: 'high' }] }],
  ['WITHDRAW of one of two reports keeps the incident as it is', walk(at.dispatching, [link('bob', 'critical')]), withdraw('bob'), 'dispatching', [],
    { reports: ALICE }],
  ['WITHDRAW never lowers the severity', walk(at.dispatching, [link('bob', 'critical')]), withdraw('bob'), 'dispatching', [],
    { reports: ALICE, severity: 'critical' }],
  ['WITHDRAW takes every report of that civilian', walk(at.dispatching, [link('bob', 'high'), link('bob', 'low'), link('carol', 'low')]), withdraw('bob'), 'dispatching', [],
    { reports: [...ALICE, { civilianId: 'carol', severity: 'low' }] }],
  ['WITHDRAW of the reporter leaves the linked report standing', walk(at.assigned, [link('bob', 'low')]), withdraw('alice'), 'assigned', [],
    { reports: [{ civilianId: 'bob', severity: 'low' }] }],
  ['WITHDRAW of the last report in assigned cancels and releases', walk(at.assigned, [link('bob', 'low'), withdraw('alice')]), withdraw('bob'), 'cancelled',
    ['withdrawOffers', 'releaseAssignments'], { reports: [], filled: [] }],
  ['TOP_UP after a rise in dispatching sizes the round for it', walk(at.dispatching, [link('bob', 'critical')]), topUp('h3'), 'dispatching', [],
    { roundSeverity: 'critical' }],
  ['TOP_UP after a rise in escalated', walk(at.escalated, [link('bob', 'high')]), topUp(), 'escalated', [], { roundSeverity: 'high' }],
  ['ROUND after a rise sizes the new round for it', walk(at.dispatching, [link('bob', 'critical')]), round('h3'), 'dispatching', [],
    { round: 2, roundSeverity: 'critical' }],
];
for (const [name, from, event, to, effects, ctx] of accepted) {
  test(`accepts: ${name}`, () => {
    const step = ok(stepIncident(from, event));
    assert.is(step.next.value, to);
    assert.equal(step.effects, effects);
    assert.equal(step.next.context, { ...from.context, ...ctx });
  });
}

test('multi-slot: first ASSIGN stays dispatching, second goes to assigned', () => {
  const first = ok(stepIncident(walk(start, [round('a', 'b')]), assign('a', 1)));
  assert.is(first.next.value, 'dispatching');
  assert.equal(first.effects, []);
  assert.equal(first.next.context.filled, [{ slot: 1, heroId: 'a' }]);
  const second = ok(stepIncident(first.next, assign('b', 0)));
  assert.is(second.next.value, 'assigned');
  assert.equal(second.effects, ['withdrawOffers']);
  assert.equal(second.next.context.filled, [{ slot: 1, heroId: 'a' }, { slot: 0, heroId: 'b' }]);
  assert.is(second.next.context.round, 1);
});

test('every effect a step returns is a declared effect', () => {
  for (const state of INCIDENT_STATES) {
    for (const event of Object.values(EVENTS)) {
      const step = stepIncident(at[state], event);
      if (step.ok) for (const e of step.effects) assert.ok(INCIDENT_EFFECTS.includes(e), e);
    }
  }
});

// ---- 2. Refusals that depend on the guards rather than on the state.
const refused: [string, PersistedIncident, IncidentEvent][] = [
  ['ASSIGN to a filled slot (dispatching)', at.dispatching, assign('h3', 0)],
  ['ASSIGN to a filled slot (escalated)', at.escalated, assign('h3', 0)],
  ['ASSIGN of the same hero to a second slot (dispatching)', at.dispatching, assign('h1', 1)],
  ['ASSIGN of the same hero to a second slot (escalated)', at.escalated, assign('h1', 1)],
  ['ASSIGN to slot index = slots.length', at.reported, assign('h3', 2)],
  ['ASSIGN to a negative slot index', at.dispatching, assign('h3', -1)],
  ['ASSIGN in a single-slot incident to slot 1', startIncident(ONE), assign('h1', 1)],
  ['EN_ROUTE by a non-holder in assigned', at.assigned, enRoute('h3')],
  ['ARRIVE by a non-holder in assigned', at.assigned, arrive('h3')],
  ['ARRIVE by a non-holder in en_route', at.en_route, arrive('h3')],
  ['RESOLVE by a non-holder in on_scene', at.on_scene, resolve('h3')],
  ['RESOLVE in assigned', at.assigned, resolve('h1')],
  ['RESOLVE in en_route', at.en_route, resolve('h1')],
  ['EN_ROUTE in dispatching, even by a holder', at.dispatching, enRoute('h1')],
  ['RELEASE of a non-holder in dispatching', at.dispatching, release('h3')],
  ['RELEASE of a non-holder in escalated', at.escalated, release('h3')],
  ['RELEASE of a non-holder in assigned', at.assigned, release('h3')],
  ['RELEASE of a non-holder in en_route', at.en_route, release('h3')],
  ['RELEASE of a non-holder in on_scene', at.on_scene, release('h3')],
  ['RELEASE naming nobody', at.assigned, release()],
  ['RELEASE in reported', at.reported, release('h1')],
  ['CANCEL in resolved', at.resolved, CANCEL],
  ['CANCEL in cancelled', at.cancelled, CANCEL],
  ['RELEASE of a former holder in resolved', at.resolved, release('h1')],
  ['ROUND in resolved', at.resolved, round()],
  ['WITHDRAW by a civilian with no report on it', at.dispatching, withdraw('mallory')],
  ['WITHDRAW a second time', walk(at.dispatching, [link('bob', 'low'), withdraw('bob')]), withdraw('bob')],
  ['TOP_UP twice for one rise', walk(at.dispatching, [link('bob', 'critical'), topUp('h3')]), topUp('h4')],
  ['TOP_UP in reported, even after a rise (its first round is sized for it)', walk(at.reported, [link('bob', 'critical')]), topUp('h3')],
  ['TOP_UP in assigned after a rise', walk(at.assigned, [link('bob', 'critical')]), topUp('h3')],
  ['LINK in cancelled', at.cancelled, link('bob', 'critical')],
  ['LINK in resolved', at.resolved, link('bob', 'low')],
];
for (const [name, from, event] of refused) {
  test(`refuses: ${name}`, () => assert.equal(stepIncident(from, event), { ok: false }));
}

// ---- 3. JSON round-trip: what Postgres stores resumes exactly like the original.
for (const state of INCIDENT_STATES) {
  test(`JSON round-trip in ${state}`, () => {
    const original = at[state];
    const copy = JSON.parse(JSON.stringify(original)) as PersistedIncident;
    assert.equal(copy, original);
    for (const event of [...Object.values(EVENTS), assign('h3', 0), release('h3'), link('bob', 'low'), withdraw('bob')]) {
      assert.equal(stepIncident(copy, event), stepIncident(original, event), `${event.type} in ${state}`);
    }
  });
}

// ---- 4. Replay from the audit trail.
test('replay: happy path ends resolved and equals stepping one by one', () => {
  const events = [round('h1'), assign('h1', 0), enRoute('h1'), arrive('h1'), resolve('h1')];
  const replayed = replayIncident(ONE, events);
  assert.is(replayed.value, 'resolved');
  assert.equal(replayed.context, { slots: ONE.slots, filled: [h1], round: 1, maxRounds: 2, severity: 'medium', reports: ALICE, roundSeverity: 'medium' });
  let state = startIncident(ONE);
  const effects: IncidentEffect[][] = [];
  for (const e of events) {
    const step = ok(stepIncident(state, e));
    effects.push(step.effects);
    state = step.next;
  }
  assert.equal(replayed, state);
  assert.equal(effects, [[], ['withdrawOffers'], [], [], ['completeAssignments']]);
});

test('replay: RELEASE and re-assignment to another hero', () => {
  const replayed = replayIncident(ONE, [
    round('h1'), assign('h1', 0), enRoute('h1'), release('h1'),
    round('h2'), assign('h2', 0), arrive('h2'), resolve('h2'),
  ]);
  assert.is(replayed.value, 'resolved');
  assert.equal(replayed.context.filled, [{ slot: 0, heroId: 'h2' }]);
  assert.is(replayed.context.round, 1, 'a release restarts the round count');
  const midway = replayIncident(ONE, [round('h1'), assign('h1', 0), enRoute('h1'), release('h1')]);
  assert.is(midway.value, 'dispatching');
  assert.equal(midway.context.filled, []);
  assert.equal(stepIncident(midway, arrive('h1')), { ok: false });
});

test('replay: empty trail is the start snapshot', () => {
  assert.equal(replayIncident(TWO, []), startIncident(TWO));
});

test('replay: throws on a refused event', () => {
  assert.throws(() => replayIncident(ONE, [round('h1'), resolve('h1')]), /RESOLVE refused in dispatching/);
  assert.throws(() => replayIncident(ONE, [CANCEL, CANCEL]), /CANCEL refused in cancelled/);
  assert.throws(() => replayIncident(ONE, [round('h1'), assign('h1', 0), release('h2')]), /RELEASE refused in assigned/);
});

test('replay: audit types LINKED and WITHDRAWN replay as LINK and WITHDRAW', () => {
  assert.is(auditType('LINK'), 'LINKED');
  assert.is(auditType('WITHDRAW'), 'WITHDRAWN');
  assert.is(auditType('ROUND'), 'ROUND');
  const events = [round('h1'), link('bob', 'critical'), topUp('h2'), withdraw('alice'), assign('h2', 0), withdraw('bob')];
  // What the audit trail holds: `{ type, ...data }` under the audit type.
  const trail = events.map((e) => ({ ...e, type: auditType(e.type) }));
  assert.equal(trail.map((e) => e.type), ['ROUND', 'LINKED', 'TOP_UP', 'WITHDRAWN', 'ASSIGN', 'WITHDRAWN']);
  assert.equal(trail.map((e) => fromAudit(e)), events);
  const replayed = replayIncident(ONE, trail);
  assert.equal(replayed, walk(startIncident(ONE), events));
  assert.is(replayed.value, 'cancelled', 'the last withdrawal cancelled it');
  assert.equal(replayed.context.reports, []);
  assert.is(replayed.context.severity, 'critical');
});

// ---- 5. Incidents (snapshots and trails) from before linked reports.
test('legacy: an input without severity or reporter starts the old context', () => {
  const legacy = startIncident(LEGACY);
  assert.equal(legacy.context, { slots: LEGACY.slots, filled: [], round: 0, maxRounds: 2 });
  const after = walk(legacy, [round('h1'), assign('h1', 0), enRoute('h1')]);
  assert.equal(after.context, { slots: LEGACY.slots, filled: [h1], round: 1, maxRounds: 2 }, 'no field appears on the way');
});

test('legacy: a stored snapshot without the new fields still steps, replays and cancels', () => {
  const stored = JSON.parse(JSON.stringify(walk(startIncident(LEGACY), [round('h1')]))) as PersistedIncident;
  assert.equal(stepIncident(stored, link('bob', 'critical')), { ok: false }, 'never linked to (the service splits instead)');
  assert.equal(stepIncident(stored, withdraw('alice')), { ok: false }, 'its reporter cancels it instead');
  assert.equal(stepIncident(stored, topUp('h2')), { ok: false });
  assert.is(ok(stepIncident(stored, CANCEL)).next.value, 'cancelled');
  const replayed = replayIncident(LEGACY, [round('h1'), assign('h1', 0), arrive('h1'), resolve('h1')]);
  assert.equal(replayed.context, { slots: LEGACY.slots, filled: [h1], round: 1, maxRounds: 2 });
});

test.run();
