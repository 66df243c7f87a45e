// How our words become EIDO registry values (NENA-STA-021.1b-2022 §3): incident kinds,
// severities and states, members' progress, skills and actors. One table per registry,
// so a reader (and the README's mapping table) can check each row; where no registry
// value says exactly what we mean, the row is a judgement call and says so.
import type { AssignmentState, IncidentKind, IncidentState, MemberProgress, Severity } from '../../shared/domain.ts';
import type {
  AGENCY_ROLES, EMERGENCY_RESOURCE_TYPES, INCIDENT_STATUSES, INCIDENT_TYPES, PRIMARY_UNIT_STATUSES,
  RESOURCE_ATTRIBUTES_USED, SECONDARY_UNIT_STATUSES,
} from './eido.registries.ts';

type IncidentType = (typeof INCIDENT_TYPES)[number];
type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
type AgencyRole = (typeof AGENCY_ROLES)[number];
type PrimaryUnitStatus = (typeof PRIMARY_UNIT_STATUSES)[number];
type SecondaryUnitStatus = (typeof SECONDARY_UNIT_STATUSES)[number];
type ResourceAttribute = (typeof RESOURCE_ATTRIBUTES_USED)[number];

/**
 * Kind → EIDO-IncidentType-Common (APCO ANS 2.103.2-2019). Our kinds are broader than
 * APCO's codes, so each goes to the code for "this kind, details unknown"; severity is
 * carried by the priority, not the type.
 */
export const INCIDENT_TYPE: Record<IncidentKind, { code: IncidentType; text: string; judgement?: string }> = {
  fire: { code: 'FUNK', text: 'Fire' },
  disaster: { code: 'MAJORINC', text: 'Disaster' },
  other: { code: 'TROUBLE', text: 'Other' },
  accident: { code: 'MVAUNK', text: 'Accident', judgement: 'APCO has no generic accident; most reported accidents are road collisions, injuries unknown' },
  crime: { code: 'SUSP', text: 'Crime', judgement: 'APCO codes name the offence; SUSP ("suspicious incident, unknown problems") is the one for an unnamed crime' },
  medical: { code: 'SICK', text: 'Medical', judgement: 'SICK is APCO\'s non-specific medical code; ALS/BLS would guess the response level' },
};

/** Severity → incidentCommonPriorityNumber (§2.9: 0 lowest to 10 highest), evenly spaced: a judgement call. */
export const PRIORITY: Record<Severity, number> = { critical: 10, high: 7, medium: 4, low: 1 };

/** The state's own status: an open incident is Active; the two final states say how it ended. */
export const STATE_STATUS: Record<IncidentState, IncidentStatus> = {
  reported: 'Active', dispatching: 'Active', escalated: 'Active', assigned: 'Active', en_route: 'Active', on_scene: 'Active',
  resolved: 'Closed', cancelled: 'Cancelled',
};

/**
 * What the registry's three resource statuses say of an open incident, each "at least
 * one emergency resource": assigned to it, en route, on scene. Read from the members
 * still active, so a team with one member on scene says ResourcesOnscene while another
 * slot is still being dispatched.
 */
export function incidentStatuses(state: IncidentState, active: MemberProgress[]): IncidentStatus[] {
  const own = STATE_STATUS[state];
  if (own !== 'Active') return [own];
  const out: IncidentStatus[] = [own];
  if (active.length > 0) out.push('ResourcesAssigned');
  if (active.includes('en_route')) out.push('ResourcesEnroute');
  if (active.includes('on_scene')) out.push('ResourcesOnscene');
  return out;
}

/** A member's assignment → the unit's statuses (§2.20, Tables 3-9 and 3-10). */
export interface UnitStatus { primary: PrimaryUnitStatus; secondary: SecondaryUnitStatus[]; internal: string[] }

/**
 * Active members are NotAvailable, with how far they have got; a member who resolved
 * is Cleared and a released one AssignmentCancelled, both Available again as far as
 * this incident knows (the hero may have taken other work since: a judgement call, the
 * EIDO describes this incident).
 */
export function unitStatus(state: AssignmentState, progress: MemberProgress): UnitStatus {
  if (state === 'released') return { primary: 'Available', secondary: ['AssignmentCancelled'], internal: ['released', progress] };
  if (state === 'completed') return { primary: 'Available', secondary: ['Cleared'], internal: ['completed'] };
  const secondary: Record<MemberProgress, SecondaryUnitStatus> = {
    assigned: 'Assigned', en_route: 'EnRoute', on_scene: 'OnScene', resolved: 'Cleared',
  };
  return { primary: progress === 'resolved' ? 'Available' : 'NotAvailable', secondary: [secondary[progress]], internal: ['active', progress] };
}

/**
 * Every hero is one emergency resource: a person, not a vehicle or a team. The registry
 * has no "person on foot" type; RapidResponseSpecialist is the nearest (a judgement call).
 */
export const RESOURCE_TYPE: (typeof EMERGENCY_RESOURCE_TYPES)[number] = 'RapidResponseSpecialist';

/** Skills with a clear EIDO-ResourceAttribute equivalent; other skills map to none (the registry is 0..*). */
export const SKILL_ATTRIBUTE: Record<string, ResourceAttribute> = { fire: 'Firefighter', medic: 'EMT', hazmat: 'HazMatOfficer' };

export const resourceAttributes = (skills: readonly string[]): ResourceAttribute[] =>
  [...new Set(skills.flatMap((s) => (Object.hasOwn(SKILL_ATTRIBUTE, s) ? [SKILL_ATTRIBUTE[s]!] : [])))];

/**
 * Our agency takes the report (CallReceiving) and sends its own heroes (Dispatching);
 * once a hero was assigned it is also the agency whose resources went (Dispatched).
 */
export function agencyRoles(anyAssigned: boolean): AgencyRole[] {
  return anyAssigned ? ['CallReceiving', 'Dispatching', 'Dispatched'] : ['CallReceiving', 'Dispatching'];
}

/**
 * `agencyType`: a value of NENA's urn:emergency:service:responder registry without the
 * prefix. We are a dispatch centre for every kind of emergency, so `psap` (as NENA's own
 * sample EIDO uses), not police, fire or ems.
 */
export const AGENCY_TYPE = ['psap'];

/**
 * Agent roles ("Agent Roles" registry, NENA-STA-010 §10.28): dispatchers and our
 * dispatch automatons (`system:…` actors) are `Dispatching`. That registry has no role
 * for a field responder, and §2.20 requires every resource to name its agents: heroes
 * are `Responder`, a value outside the registry (a judgement call, flagged in the README).
 */
export const AGENT_ROLE = { hero: 'Responder', dispatcher: 'Dispatching', system: 'Dispatching' } as const;
