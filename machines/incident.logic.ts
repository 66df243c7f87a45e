// Pure helpers around the incident machine: start, step, and replay. The server and
// the tests use only these, never a live actor, so no step depends on memory.
import { initialTransition, transition } from 'xstate';
import {
  INCIDENT_EFFECTS, incidentMachine,
  type IncidentEffect, type IncidentEvent, type IncidentEventType, type IncidentInput, type PersistedIncident,
} from './incident.machine.ts';

export type StepResult =
  | { ok: true; next: PersistedIncident; effects: IncidentEffect[] }
  | { ok: false };

const isEffect = (type: string): type is IncidentEffect => (INCIDENT_EFFECTS as readonly string[]).includes(type);

// The audit trail names some events as the contract does (PROTOCOL v1.1 `LINKED`);
// every other event is recorded under its own type.
const AUDIT_TYPES: Partial<Record<IncidentEventType, string>> = { LINK: 'LINKED', WITHDRAW: 'WITHDRAWN' };
const EVENT_TYPES = new Map(Object.entries(AUDIT_TYPES).map(([event, audit]) => [audit, event as IncidentEventType]));

/** The `type` an event is recorded under in the audit trail. */
export const auditType = (type: IncidentEventType): string => AUDIT_TYPES[type] ?? type;

/** An audit row (`{ type, ...data }`) back as the machine event it records. */
export function fromAudit(row: { type: string } & Record<string, unknown>): IncidentEvent {
  return { ...row, type: EVENT_TYPES.get(row.type) ?? row.type } as IncidentEvent;
}

function persist(snapshot: { value: unknown; context: PersistedIncident['context'] }): PersistedIncident {
  // A structured copy keeps the stored snapshot plain JSON, detached from xstate's objects.
  return structuredClone({ value: snapshot.value as PersistedIncident['value'], context: snapshot.context });
}

export function startIncident(input: IncidentInput): PersistedIncident {
  const [snapshot] = initialTransition(incidentMachine, input);
  return persist(snapshot);
}

/** Applies one event. `ok: false` means the machine refuses it in this state. */
export function stepIncident(current: PersistedIncident, event: IncidentEvent): StepResult {
  const snapshot = incidentMachine.resolveState({ value: current.value, context: current.context });
  if (snapshot.status !== 'active' || !snapshot.can(event)) return { ok: false };
  const [next, actions] = transition(incidentMachine, snapshot, event);
  return { ok: true, next: persist(next), effects: actions.map((a) => a.type).filter(isEffect) };
}

/**
 * Rebuilds an incident from its audit trail; used to check invariant I5. Events may
 * carry their machine type or their audit type (`LINKED`, `WITHDRAWN`).
 */
export function replayIncident(input: IncidentInput, events: ({ type: string } & Record<string, unknown>)[] | IncidentEvent[]): PersistedIncident {
  let state = startIncident(input);
  for (const raw of events) {
    const event = fromAudit(raw as { type: string } & Record<string, unknown>);
    const step = stepIncident(state, event);
    if (!step.ok) throw new Error(`replay: ${raw.type} refused in ${state.value}`);
    state = step.next;
  }
  return state;
}
