// The wire vocabulary the three pages share, served to them as the module
// /assets/vocabulary.js (`export const VOCABULARY = {...}`), so a page never keeps its
// own copy of a state, kind or refusal name, nor of the words shown for one. No Node
// imports: browsers get it as JSON. The labels are typed against the domain lists, so a
// name added there does not compile until it has its words here.
import {
  ALERT_TYPES, FINAL_STATES, HERO_MODES, HERO_STATUSES, INCIDENT_KINDS, INCIDENT_STATES, MEMBER_PROGRESS, OFFER_STATES,
  PROGRESS_STATES, REFUSAL_REASONS, SEVERITIES, SEVERITY_RANK,
  type AlertType, type HeroStatus, type IncidentKind, type IncidentState, type RefusalReason, type Severity,
} from './domain.ts';

/** Open states in which no hero holds the incident (neither final nor a member's progress). */
const WAITING_STATES = INCIDENT_STATES.filter((s) => !FINAL_STATES.includes(s) && !(MEMBER_PROGRESS as readonly string[]).includes(s));
/** Open states in the order a dispatcher reads them: still waiting, then held by a hero. */
const OPEN_STATES = [...WAITING_STATES, ...MEMBER_PROGRESS.filter((s) => !FINAL_STATES.includes(s))];

/** The words each name is shown with, one place for every page. */
const LABELS = {
  incidentKinds: {
    accident: 'Accident', fire: 'Fire', crime: 'Crime', medical: 'Medical', disaster: 'Disaster', other: 'Other',
  } satisfies Record<IncidentKind, string>,
  severities: { critical: 'Critical', high: 'High', medium: 'Medium', low: 'Low' } satisfies Record<Severity, string>,
  incidentStates: {
    reported: 'Reported', dispatching: 'Finding a hero', assigned: 'Hero assigned', en_route: 'Hero on the way',
    on_scene: 'Hero on scene', resolved: 'Resolved', cancelled: 'Cancelled', escalated: 'A dispatcher is on it',
  } satisfies Record<IncidentState, string>,
  heroStatuses: {
    off_duty: 'Off duty', available: 'Available', offered: 'Offered', assigned: 'Assigned',
  } satisfies Record<HeroStatus, string>,
  // Said to the hero whose command was refused, hence the second person.
  refusalReasons: {
    taken: 'Another hero already took this one.',
    expired: 'This offer has expired.',
    withdrawn: 'This offer was withdrawn.',
    not_found: 'That is not yours, or it no longer exists.',
    busy: 'You are on an active assignment. Finish it first.',
    invalid_transition: 'That step is not possible right now.',
    released: 'You were released from this incident.',
    invalid: 'The app sent something the server did not understand.',
    rate_limited: 'Too fast. Wait a moment.',
    internal: 'The service had a problem. Try again.',
  } satisfies Record<RefusalReason, string>,
  alertTypes: {
    incident_stuck: 'Incident stuck', no_hero_found: 'No hero found', hero_unreachable: 'Hero unreachable',
    location_stale: 'Location stale', delivery_failed: 'Delivery failed', team_incomplete: 'Team incomplete',
  } satisfies Record<AlertType, string>,
};

export const VOCABULARY = {
  incidentKinds: INCIDENT_KINDS,
  /** Most urgent first; `severityRank` is the index (0 for critical). */
  severities: SEVERITIES,
  severityRank: SEVERITY_RANK,
  incidentStates: INCIDENT_STATES,
  finalStates: FINAL_STATES,
  waitingStates: WAITING_STATES,
  openStates: OPEN_STATES,
  /** What a hero moves an incident into; `memberProgress` adds `assigned` before them. */
  progressStates: PROGRESS_STATES,
  memberProgress: MEMBER_PROGRESS,
  offerStates: OFFER_STATES,
  heroStatuses: HERO_STATUSES,
  heroModes: HERO_MODES,
  refusalReasons: REFUSAL_REASONS,
  alertTypes: ALERT_TYPES,
  labels: LABELS,
} as const;

/** The module text served at /assets/vocabulary.js. */
export const vocabularyModule = (): string => `export const VOCABULARY = ${JSON.stringify(VOCABULARY)};\n`;
