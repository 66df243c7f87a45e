// Building blocks for the pure machine tests: one event builder per event type, and
// stepping that fails the test when the machine refuses a step.
import * as assert from 'uvu/assert';
import type { IncidentEffect, IncidentEvent, PersistedIncident } from '../../machines/incident.machine.ts';
import { stepIncident, type StepResult } from '../../machines/incident.logic.ts';
import type { Severity } from '../../shared/domain.ts';

export const round = (...offered: string[]): IncidentEvent => ({ type: 'ROUND', offered, radiusKm: 5 });
export const assign = (heroId: string, slot: number): IncidentEvent => ({ type: 'ASSIGN', heroId, slot, by: 'hero' });
export const enRoute = (heroId: string): IncidentEvent => ({ type: 'EN_ROUTE', heroId });
export const arrive = (heroId: string): IncidentEvent => ({ type: 'ARRIVE', heroId });
export const resolve = (heroId: string): IncidentEvent => ({ type: 'RESOLVE', heroId });
export const release = (...heroIds: string[]): IncidentEvent => ({ type: 'RELEASE', heroIds, reason: 'dropped' });
export const CANCEL: IncidentEvent = { type: 'CANCEL', reason: 'reporter' };
export const link = (civilianId: string, severity: Severity): IncidentEvent => ({ type: 'LINK', civilianId, severity, description: `${civilianId} says`, key: `k-${civilianId}` });
export const withdraw = (civilianId: string): IncidentEvent => ({ type: 'WITHDRAW', civilianId, reason: 'fine now' });
export const topUp = (...offered: string[]): IncidentEvent => ({ type: 'TOP_UP', offered, radiusKm: 5 });

export function ok(step: StepResult): { next: PersistedIncident; effects: IncidentEffect[] } {
  if (!step.ok) throw new assert.Assertion({ message: 'expected the step to be accepted', operator: 'ok', expects: true, actual: false });
  return step;
}
export function walk(from: PersistedIncident, events: IncidentEvent[]): PersistedIncident {
  return events.reduce((s, e) => ok(stepIncident(s, e)).next, from);
}
