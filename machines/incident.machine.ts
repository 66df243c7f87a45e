// The life of one incident, as a pure XState v5 machine. No timers, no invoked
// promises, no spawned children: the server computes every step with xstate's pure
// `transition`, persists `{ value, context }` to Postgres with a guarded update, and
// carries out the named actions the step returns (see server/services/incident.runner.ts).
import { and, assign, not, setup } from 'xstate';
import { SEVERITY_RANK, type IncidentState, type MemberProgress, type Severity } from '../shared/domain.ts';
import type { IncidentContext, Slot } from './incident.context.ts';
import { MEMBER_MOVES, movedMembers, openSlots, slotOf, teamState, type MemberEventType } from './incident.team.ts';

// The context's types live in incident.context.ts; importers of the machine find them here too.
export type { FilledSlot, IncidentContext, Member, Report, Slot } from './incident.context.ts';

export interface IncidentInput {
  slots: Slot[];
  maxRounds: number;
  /** The first report's severity and reporter; absent in trails written before v1.1. */
  severity?: Severity;
  reporter?: string;
  /** Track each member's progress (v1.1 Teams); absent in trails written before. */
  perMember?: boolean;
}

export type IncidentEvent =
  | { type: 'ROUND'; offered: string[]; radiusKm: number }
  /** More offers for the open slot of a round whose severity rose while it was pending. */
  | { type: 'TOP_UP'; offered: string[]; radiusKm: number }
  | { type: 'ASSIGN'; heroId: string; slot: number; by: 'hero' | 'dispatcher' }
  | { type: 'EN_ROUTE'; heroId: string }
  | { type: 'ARRIVE'; heroId: string }
  | { type: 'RESOLVE'; heroId: string }
  | { type: 'RELEASE'; heroIds: string[]; reason: string }
  | { type: 'CANCEL'; reason: string }
  /** Another report of the same emergency joins the incident (audit type `LINKED`). */
  | { type: 'LINK'; civilianId: string; severity: Severity; description: string; key: string }
  /** A civilian takes back their own report (audit type `WITHDRAWN`). */
  | { type: 'WITHDRAW'; civilianId: string; reason: string };

export type IncidentEventType = IncidentEvent['type'];

/** Side effects a step may ask for; the server maps each to writes and outbox rows. */
export const INCIDENT_EFFECTS = [
  'requestDispatch', 'withdrawOffers', 'releaseAssignments', 'completeAssignments', 'alertNoHeroFound', 'reprioritise',
  // Teams: the other offers for the slot just filled; the sender's progress; the sender's assignment.
  'withdrawSlotOffers', 'recordProgress', 'completeMember',
] as const;
export type IncidentEffect = (typeof INCIDENT_EFFECTS)[number];

type Args = { context: IncidentContext; event: IncidentEvent };
const noop = () => {};
const moreUrgent = (a: Severity, b: Severity) => SEVERITY_RANK[a] < SEVERITY_RANK[b];

const teams = ({ context }: Args) => context.members !== undefined;

const fillsLastSlot = ({ context, event }: Args) =>
  event.type === 'ASSIGN' && (context.members
    ? openSlots(context).length <= 1
    : context.filled.length + 1 >= context.slots.length);

// No hero in two slots: neither an active member nor (teams) one who resolved here.
const slotIsOpen = ({ context, event }: Args) =>
  event.type === 'ASSIGN'
  && event.slot >= 0 && event.slot < context.slots.length
  && openSlots(context).includes(event.slot)
  && !context.filled.some((f) => f.heroId === event.heroId)
  && !(context.members ?? []).some((m) => m?.heroId === event.heroId);

const isMemberEvent = (e: IncidentEvent): e is Extract<IncidentEvent, { type: MemberEventType }> => e.type in MEMBER_MOVES;

/** Teams: the sender is an active member and may make this move from where they are. */
const movesMember = ({ context, event }: Args) => {
  if (!context.members || !isMemberEvent(event)) return false;
  const slot = slotOf(context, event.heroId);
  const member = slot === undefined ? null : context.members[slot];
  return !!member && (MEMBER_MOVES[event.type].from as readonly MemberProgress[]).includes(member.progress);
};

/** Teams: the move is allowed and leaves the incident in state `to` (see teamState). */
const leadsTo = (to: IncidentState) => ({ context, event }: Args) => {
  if (!movesMember({ context, event }) || !isMemberEvent(event)) return false;
  return teamState(movedMembers(context.members!, slotOf(context, event.heroId)!, MEMBER_MOVES[event.type].to)) === to;
};

const holdsSlot = ({ context, event }: Args) =>
  'heroId' in event && context.filled.some((f) => f.heroId === event.heroId);

const releasesSomeone = ({ context, event }: Args) =>
  event.type === 'RELEASE' && event.heroIds.some((id) => context.filled.some((f) => f.heroId === id));

// Escalate once the configured rounds have all gone by without an accept, or as soon
// as the last of them finds nobody to offer.
const escalatesNow = ({ context, event }: Args) =>
  event.type === 'ROUND'
  && (context.round + 1 > context.maxRounds || (event.offered.length === 0 && context.round + 1 >= context.maxRounds));

const tracksReports = ({ context }: Args) => context.reports !== undefined;

const raisesSeverity = ({ context, event }: Args) =>
  event.type === 'LINK' && context.severity !== undefined && moreUrgent(event.severity, context.severity);

const roseSinceRound = ({ context }: Args) =>
  context.severity !== undefined && context.roundSeverity !== undefined && moreUrgent(context.severity, context.roundSeverity);

const hasReport = ({ context, event }: Args) =>
  event.type === 'WITHDRAW' && (context.reports ?? []).some((r) => r.civilianId === event.civilianId);

const lastReport = ({ context, event }: Args) =>
  event.type === 'WITHDRAW' && (context.reports ?? []).every((r) => r.civilianId === event.civilianId);

// Teams: a member event in a state where every slot is filled. The incident goes where
// the least advanced member now is (a target per possible outcome, first match wins),
// or stays where it is.
const MOVE_ACTIONS = {
  EN_ROUTE: ['moveMember', 'recordProgress'],
  ARRIVE: ['moveMember', 'recordProgress'],
  RESOLVE: ['moveMember', 'completeMember'],
} satisfies Record<MemberEventType, ('moveMember' | 'recordProgress' | 'completeMember')[]>;
const FOLLOWED = ['assigned', 'en_route', 'on_scene', 'resolved'] as const;

function memberMoves(here: IncidentState) {
  const moves = (type: MemberEventType) => [
    ...FOLLOWED.filter((to) => to !== here).map((to) => ({ guard: leadsTo(to), target: to, actions: MOVE_ACTIONS[type] })),
    { guard: 'movesMember' as const, actions: MOVE_ACTIONS[type] },
  ];
  return { EN_ROUTE: moves('EN_ROUTE'), ARRIVE: moves('ARRIVE'), RESOLVE: moves('RESOLVE') };
}

// While a slot is open the incident stays dispatching (or escalated) whatever members do.
const stayingMoves = {
  EN_ROUTE: { guard: 'movesMember' as const, actions: MOVE_ACTIONS.EN_ROUTE },
  ARRIVE: { guard: 'movesMember' as const, actions: MOVE_ACTIONS.ARRIVE },
  RESOLVE: { guard: 'movesMember' as const, actions: MOVE_ACTIONS.RESOLVE },
};

export const incidentMachine = setup({
  types: {
    context: {} as IncidentContext,
    events: {} as IncidentEvent,
    input: {} as IncidentInput,
  },
  actions: {
    requestDispatch: noop,
    withdrawOffers: noop,
    releaseAssignments: noop,
    completeAssignments: noop,
    alertNoHeroFound: noop,
    reprioritise: noop,
    // A round's offers are sized for the severity it starts with.
    countRound: assign(({ context }) => ({
      round: context.round + 1, ...(context.severity ? { roundSeverity: context.severity } : {}),
    })),
    // A top-up brings the pending round up to the severity it has now.
    sizeRound: assign(({ context }) => (context.severity ? { roundSeverity: context.severity } : {})),
    withdrawSlotOffers: noop,
    recordProgress: noop,
    completeMember: noop,
    fillSlot: assign(({ context, event }) => {
      if (event.type !== 'ASSIGN') return {};
      const filled = [...context.filled, { slot: event.slot, heroId: event.heroId }];
      if (!context.members) return { filled };
      const members = context.members.map((m, i) => (i === event.slot ? { heroId: event.heroId, progress: 'assigned' as const } : m));
      return { filled, members };
    }),
    // Teams: the sender's own progress moves; a member who resolved is free (out of
    // `filled`) and keeps the slot.
    moveMember: assign(({ context, event }) => {
      if (!context.members || !isMemberEvent(event)) return {};
      const slot = slotOf(context, event.heroId)!;
      const to = MEMBER_MOVES[event.type].to;
      return {
        members: movedMembers(context.members, slot, to),
        ...(to === 'resolved' ? { filled: context.filled.filter((f) => f.heroId !== event.heroId) } : {}),
      };
    }),
    // A release starts the search afresh: the rounds count again from zero. Only the
    // released members' slots reopen; the others keep their members and progress.
    vacate: assign(({ context, event }) => {
      if (event.type !== 'RELEASE') return {};
      const gone = context.filled.filter((f) => event.heroIds.includes(f.heroId)).map((f) => f.slot);
      return {
        filled: context.filled.filter((f) => !event.heroIds.includes(f.heroId)),
        round: 0,
        ...(context.members ? { members: context.members.map((m, i) => (gone.includes(i) ? null : m)) } : {}),
      };
    }),
    vacateAll: assign(({ context }) => ({
      filled: [],
      ...(context.members ? { members: context.members.map((m, i) => (context.filled.some((f) => f.slot === i) ? null : m)) } : {}),
    })),
    // Severity only ever rises: the most urgent report decides how fast heroes come.
    addReport: assign(({ context, event }) => {
      if (event.type !== 'LINK' || !context.reports) return {};
      const severity = context.severity && !moreUrgent(event.severity, context.severity) ? context.severity : event.severity;
      return { reports: [...context.reports, { civilianId: event.civilianId, severity: event.severity }], severity };
    }),
    dropReports: assign(({ context, event }) =>
      event.type === 'WITHDRAW' && context.reports ? { reports: context.reports.filter((r) => r.civilianId !== event.civilianId) } : {}),
  },
  guards: {
    fillsLastSlot, slotIsOpen, holdsSlot, releasesSomeone, escalatesNow,
    tracksReports, raisesSeverity, roseSinceRound, hasReport, lastReport, teams, movesMember,
  },
}).createMachine({
  id: 'incident',
  initial: 'reported',
  context: ({ input }) => ({
    slots: input.slots, filled: [], round: 0, maxRounds: input.maxRounds,
    ...(input.severity && input.reporter !== undefined
      ? { severity: input.severity, reports: [{ civilianId: input.reporter, severity: input.severity }], roundSeverity: input.severity }
      : {}),
    ...(input.perMember ? { members: input.slots.map(() => null) } : {}),
  }),
  on: {
    // Every state that is not final may be cancelled (final states stop all events).
    CANCEL: { target: '.cancelled', actions: ['withdrawOffers', 'releaseAssignments', 'vacateAll'] },
    // A linked report is kept whatever the state; the states still looking for heroes
    // (below) also re-prioritise dispatch when it raises the severity.
    LINK: { guard: 'tracksReports', actions: ['addReport'] },
    // Only the withdrawal of the last standing report cancels the incident.
    WITHDRAW: [
      { guard: and(['hasReport', 'lastReport']), target: '.cancelled', actions: ['dropReports', 'withdrawOffers', 'releaseAssignments', 'vacateAll'] },
      { guard: 'hasReport', actions: ['dropReports'] },
    ],
  },
  states: {
    reported: {
      on: {
        ROUND: [
          { guard: 'escalatesNow', target: 'escalated', actions: ['countRound', 'alertNoHeroFound'] },
          { target: 'dispatching', actions: ['countRound'] },
        ],
        ASSIGN: [
          { guard: and(['slotIsOpen', 'fillsLastSlot']), target: 'assigned', actions: ['fillSlot', 'withdrawOffers'] },
          { guard: and(['teams', 'slotIsOpen']), target: 'dispatching', actions: ['fillSlot', 'withdrawSlotOffers'] },
          { guard: 'slotIsOpen', target: 'dispatching', actions: ['fillSlot'] },
        ],
        LINK: { guard: and(['tracksReports', 'raisesSeverity']), actions: ['addReport', 'reprioritise'] },
      },
    },
    dispatching: {
      on: {
        ROUND: [
          { guard: 'escalatesNow', target: 'escalated', actions: ['countRound', 'alertNoHeroFound'] },
          { actions: ['countRound'] },
        ],
        TOP_UP: { guard: 'roseSinceRound', actions: ['sizeRound'] },
        ASSIGN: [
          { guard: and(['slotIsOpen', 'fillsLastSlot']), target: 'assigned', actions: ['fillSlot', 'withdrawOffers'] },
          { guard: and(['teams', 'slotIsOpen']), actions: ['fillSlot', 'withdrawSlotOffers'] },
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
        // Members already assigned are committed and move while the team assembles.
        ...stayingMoves,
        // A hero of a partly filled multi-hero incident dropped out.
        RELEASE: { guard: 'releasesSomeone', actions: ['vacate', 'requestDispatch'] },
        LINK: { guard: and(['tracksReports', 'raisesSeverity']), actions: ['addReport', 'reprioritise'] },
      },
    },
    escalated: {
      on: {
        // Automatic dispatch keeps retrying, slower, while humans are alerted.
        ROUND: { actions: ['countRound'] },
        TOP_UP: { guard: 'roseSinceRound', actions: ['sizeRound'] },
        ASSIGN: [
          { guard: and(['slotIsOpen', 'fillsLastSlot']), target: 'assigned', actions: ['fillSlot', 'withdrawOffers'] },
          { guard: and(['teams', 'slotIsOpen']), actions: ['fillSlot', 'withdrawSlotOffers'] },
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
        // Members already assigned are committed and move while the team assembles.
        ...stayingMoves,
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
        LINK: { guard: and(['tracksReports', 'raisesSeverity']), actions: ['addReport', 'reprioritise'] },
      },
    },
    // Teams: each member moves on their own and the incident follows the least advanced
    // (memberMoves). Incidents started before teams move as a whole, by any holder.
    assigned: {
      on: {
        ...memberMoves('assigned'),
        EN_ROUTE: [...memberMoves('assigned').EN_ROUTE, { guard: and([not('teams'), 'holdsSlot']), target: 'en_route' }],
        ARRIVE: [...memberMoves('assigned').ARRIVE, { guard: and([not('teams'), 'holdsSlot']), target: 'on_scene' }],
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
      },
    },
    en_route: {
      on: {
        ...memberMoves('en_route'),
        ARRIVE: [...memberMoves('en_route').ARRIVE, { guard: and([not('teams'), 'holdsSlot']), target: 'on_scene' }],
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
      },
    },
    on_scene: {
      on: {
        ...memberMoves('on_scene'),
        RESOLVE: [...memberMoves('on_scene').RESOLVE, { guard: and([not('teams'), 'holdsSlot']), target: 'resolved', actions: ['completeAssignments'] }],
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
      },
    },
    resolved: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type IncidentMachine = typeof incidentMachine;
/** What Postgres stores in `incidents.snapshot`: enough to resume the machine. */
export interface PersistedIncident {
  value: IncidentState;
  context: IncidentContext;
}
