// The life of one incident, as a pure XState v5 machine. No timers, no invoked
// promises, no spawned children: the server computes every step with xstate's pure
// `transition`, persists `{ value, context }` to Postgres with a guarded update, and
// carries out the named actions the step returns (see server/services/incident.runner.ts).
import { and, assign, setup } from 'xstate';
import type { IncidentState } from '../shared/domain.ts';

export interface Slot {
  skill: string | null;
}

export interface FilledSlot {
  slot: number;
  heroId: string;
}

export interface IncidentContext {
  slots: Slot[];
  filled: FilledSlot[];
  /** Dispatch rounds run so far; decides when to escalate. */
  round: number;
  maxRounds: number;
}

export interface IncidentInput {
  slots: Slot[];
  maxRounds: number;
}

export type IncidentEvent =
  | { type: 'ROUND'; offered: string[]; radiusKm: number }
  | { type: 'ASSIGN'; heroId: string; slot: number; by: 'hero' | 'dispatcher' }
  | { type: 'EN_ROUTE'; heroId: string }
  | { type: 'ARRIVE'; heroId: string }
  | { type: 'RESOLVE'; heroId: string }
  | { type: 'RELEASE'; heroIds: string[]; reason: string }
  | { type: 'CANCEL'; reason: string };

export type IncidentEventType = IncidentEvent['type'];

/** Side effects a step may ask for; the server maps each to writes and outbox rows. */
export const INCIDENT_EFFECTS = [
  'requestDispatch', 'withdrawOffers', 'releaseAssignments', 'completeAssignments', 'alertNoHeroFound',
] as const;
export type IncidentEffect = (typeof INCIDENT_EFFECTS)[number];

const noop = () => {};

const fillsLastSlot = ({ context, event }: { context: IncidentContext; event: IncidentEvent }) =>
  event.type === 'ASSIGN' && context.filled.length + 1 >= context.slots.length;

const slotIsOpen = ({ context, event }: { context: IncidentContext; event: IncidentEvent }) =>
  event.type === 'ASSIGN'
  && event.slot >= 0 && event.slot < context.slots.length
  && !context.filled.some((f) => f.slot === event.slot || f.heroId === event.heroId);

const holdsSlot = ({ context, event }: { context: IncidentContext; event: IncidentEvent }) =>
  'heroId' in event && context.filled.some((f) => f.heroId === event.heroId);

const releasesSomeone = ({ context, event }: { context: IncidentContext; event: IncidentEvent }) =>
  event.type === 'RELEASE' && event.heroIds.some((id) => context.filled.some((f) => f.heroId === id));

// Escalate once the configured rounds have all gone by without an accept, or as soon
// as the last of them finds nobody to offer.
const escalatesNow = ({ context, event }: { context: IncidentContext; event: IncidentEvent }) =>
  event.type === 'ROUND'
  && (context.round + 1 > context.maxRounds || (event.offered.length === 0 && context.round + 1 >= context.maxRounds));

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
    countRound: assign({ round: ({ context }) => context.round + 1 }),
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
  },
  guards: { fillsLastSlot, slotIsOpen, holdsSlot, releasesSomeone, escalatesNow },
}).createMachine({
  id: 'incident',
  initial: 'reported',
  context: ({ input }) => ({ slots: input.slots, filled: [], round: 0, maxRounds: input.maxRounds }),
  on: {
    // Every state that is not final may be cancelled (final states stop all events).
    CANCEL: { target: '.cancelled', actions: ['withdrawOffers', 'releaseAssignments', 'vacateAll'] },
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
      },
    },
    dispatching: {
      on: {
        ROUND: [
          { guard: 'escalatesNow', target: 'escalated', actions: ['countRound', 'alertNoHeroFound'] },
          { actions: ['countRound'] },
        ],
        ASSIGN: [
          { guard: and(['slotIsOpen', 'fillsLastSlot']), target: 'assigned', actions: ['fillSlot', 'withdrawOffers'] },
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
        // A hero of a partly filled multi-hero incident dropped out.
        RELEASE: { guard: 'releasesSomeone', actions: ['vacate', 'requestDispatch'] },
      },
    },
    escalated: {
      on: {
        // Automatic dispatch keeps retrying, slower, while humans are alerted.
        ROUND: { actions: ['countRound'] },
        ASSIGN: [
          { guard: and(['slotIsOpen', 'fillsLastSlot']), target: 'assigned', actions: ['fillSlot', 'withdrawOffers'] },
          { guard: 'slotIsOpen', actions: ['fillSlot'] },
        ],
        RELEASE: { guard: 'releasesSomeone', target: 'dispatching', actions: ['vacate', 'requestDispatch'] },
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
