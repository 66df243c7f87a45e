// Pure helpers around the incident machine: start, step, and replay. The server and
// the tests use only these, never a live actor, so no step depends on memory.
import { initialTransition, transition } from 'xstate';
import {
  INCIDENT_EFFECTS, incidentMachine,
  type IncidentEffect, type IncidentEvent, type IncidentInput, type PersistedIncident,
} from './incident.machine.ts';

export type StepResult =
  | { ok: true; next: PersistedIncident; effects: IncidentEffect[] }
  | { ok: false };

const isEffect = (type: string): type is IncidentEffect => (INCIDENT_EFFECTS as readonly string[]).includes(type);

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

/** Rebuilds an incident from its audit trail; used to check invariant I5. */
export function replayIncident(input: IncidentInput, events: IncidentEvent[]): PersistedIncident {
  let state = startIncident(input);
  for (const event of events) {
    const step = stepIncident(state, event);
    if (!step.ok) throw new Error(`replay: ${event.type} refused in ${state.value}`);
    state = step.next;
  }
  return state;
}
