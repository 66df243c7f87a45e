// The wire vocabulary the three pages share, served to them as the module
// /assets/vocabulary.js (`export const VOCABULARY = {...}`), so a page never keeps its
// own copy of a state, kind or refusal name. No Node imports: browsers get it as JSON.
import {
  ALERT_TYPES, HERO_MODES, HERO_STATUSES, INCIDENT_KINDS, INCIDENT_STATES, OFFER_STATES, REFUSAL_REASONS, SEVERITIES,
} from './domain.ts';

export const VOCABULARY = {
  incidentKinds: INCIDENT_KINDS,
  severities: SEVERITIES,
  incidentStates: INCIDENT_STATES,
  offerStates: OFFER_STATES,
  heroStatuses: HERO_STATUSES,
  heroModes: HERO_MODES,
  refusalReasons: REFUSAL_REASONS,
  alertTypes: ALERT_TYPES,
} as const;

/** The module text served at /assets/vocabulary.js. */
export const vocabularyModule = (): string => `export const VOCABULARY = ${JSON.stringify(VOCABULARY)};\n`;
