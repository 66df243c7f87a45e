// The life of one incident, as a pure XState v5 machine. No timers, no invoked
// promises, no spawned children: the server computes every step with xstate's pure
// `transition`, persists `{ value, context }` to Postgres with a guarded update, and
// carries out the named actions the step returns (see server/services/incident.runner.ts).
import { and, assign, setup } from 'xstate';
import { SEVERITY_RANK, type IncidentState, type Severity } from '../shared/domain.ts';

export interface Slot {
  skill: string | null;
}

export interface FilledSlot {
  slot: number;
  heroId: string;
}

/** One civilian's report still standing on the incident (the first is its reporter's). */
export interface Report {
  civilianId: string;
  severity: Severity;
}

export interface IncidentContext {
  slots: Slot[];
  filled: FilledSlot[];
  /** Dispatch rounds run so far; decides when to escalate. */
  round: number;
  maxRounds: number;
  // The three below came with linked reports (PROTOCOL v1.1). Incidents started before
  // have none of them; they keep their old behaviour and are never linked to.
  /** The highest severity among its reports, ever: a withdrawal never lowers it. */
  severity?: Severity;
  /** The reports standing on it; the incident is cancelled when the last is withdrawn. */
  reports?: Report[];
  /** The severity the current round's offers were sized for; a rise above it asks for a top-up. */
  roundSeverity?: Severity;
}

export interface IncidentInput {
  slots: Slot[];
  maxRounds: number;
  /** The first report's severity and reporter; absent in trails written before v1.1. */
  severity?: Severity;
  reporter?: string;
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
] as const;
export type IncidentEffect = (typeof INCIDENT_EFFECTS)[number];

type Args = { context: IncidentContext; event: IncidentEvent };
const noop = () => {};
const moreUrgent = (a: Severity, b: Severity) => SEVERITY_RANK[a] < SEVERITY_RANK[b];

const fillsLastSlot = ({ context, event }: Args) =>
  event.type === 'ASSIGN' && context.filled.length + 1 >= context.slots.length;

const slotIsOpen = ({ context, event }: Args) =>
  event.type === 'ASSIGN'
  && event.slot >= 0 && event.slot < context.slots.length
  && !context.filled.some((f) => f.slot === event.slot || f.heroId === event.heroId);

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
    fillSlot: assign({
      filled: ({ context, event }) =>
        event.type === 'ASSIGN' ? [...context.filled, { slot: event.slot, heroId: event.heroId }] : context.filled,
    }),
    // A release starts the search afresh: the rounds count again from zero.
    vacate: assign({
      filled: ({ context, event }) =>
        event.type === 'RELEASE' ? context.filled.filter((f) => !event.heroIds.includes(f.heroId)) : context.filled,
      round: () => 0,
    }),
    vacateAll: assign({ filled: () => [] }),
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
    tracksReports, raisesSeverity, roseSinceRound, hasReport, lastReport,
  },
}).createMachine({
  id: 'incident',
  initial: 'reported',
  context: ({ input }) => ({
    slots: input.slots, filled: [], round: 0, maxRounds: input.maxRounds,
    ...(input.severity && input.reporter !== undefined
      ? { severity: input.severity, reports: [{ civilianId: input.reporter, severity: input.severity }], roundSeverity: input.severity }
      : {}),
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
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
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
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
        LINK: { guard: and(['tracksReports', 'raisesSeverity']), actions: ['addReport', 'reprioritise'] },
      },
    },
    assigned: {
      on: {
        EN_ROUTE: { guard: 'holdsSlot', target: 'en_route' },
        ARRIVE: { guard: 'holdsSlot', target: 'on_scene' },
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
      },
    },
    en_route: {
      on: {
        ARRIVE: { guard: 'holdsSlot', target: 'on_scene' },
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
      },
    },
    on_scene: {
      on: {
        RESOLVE: { guard: 'holdsSlot', target: 'resolved', actions: ['completeAssignments'] },
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
