// How our words become CAP 1.2's: incident kinds to CAP categories and event names,
// our severity to CAP urgency and severity, and who raised an alert to its certainty.
// Tables, so the README can print them and a test can read them; nothing else here.
import type { IncidentKind, Severity } from '../../shared/domain.ts';
import type { CapCategory, CapCertainty, CapSeverity, CapUrgency } from './cap.builder.ts';

/**
 * CAP categories (§3.2.2). `accident` and `disaster` do not say which hazard (a road,
 * a flood, a quake), so they take `Safety` ("general emergency and public safety")
 * rather than a guess such as Transport or Geo that would tell the public something
 * the report did not.
 */
export const CATEGORY_OF_KIND: Record<IncidentKind, CapCategory> = {
  fire: 'Fire', medical: 'Health', crime: 'Security', accident: 'Safety', disaster: 'Safety', other: 'Other',
};

/** The `event` text, for a person to read. */
export const EVENT_OF_KIND: Record<IncidentKind, string> = {
  fire: 'Fire', medical: 'Medical emergency', crime: 'Crime', accident: 'Accident', disaster: 'Disaster', other: 'Emergency',
};

/** What the public should do near a dispatcher's warning, when the dispatcher did not say. */
export const INSTRUCTION_OF_KIND: Record<IncidentKind, string> = {
  fire: 'Keep away from the area. If smoke reaches you, stay indoors and close windows and doors.',
  medical: 'Keep the area clear for emergency services.',
  crime: 'Avoid the area and stay indoors. Follow instructions from the police.',
  accident: 'Avoid the area and expect closed roads and delays.',
  disaster: 'Move away from the area if it is safe to do so, and follow instructions from emergency services.',
  other: 'Avoid the area and follow instructions from emergency services.',
};

/** Our severity to CAP urgency (how soon to act) and severity (how bad). */
export const URGENCY_OF_SEVERITY: Record<Severity, CapUrgency> = { critical: 'Immediate', high: 'Immediate', medium: 'Expected', low: 'Expected' };
export const SEVERITY_OF_SEVERITY: Record<Severity, CapSeverity> = { critical: 'Extreme', high: 'Severe', medium: 'Moderate', low: 'Minor' };

export const ALERT_TRIGGERS = ['burst', 'warning'] as const;
export type AlertTrigger = (typeof ALERT_TRIGGERS)[number];

/**
 * A burst is several civilians' reports that nobody has confirmed yet: `Likely`. A
 * dispatcher's warning is a person's judgement that the danger is real: `Observed`.
 */
export const CERTAINTY_OF_TRIGGER: Record<AlertTrigger, CapCertainty> = { burst: 'Likely', warning: 'Observed' };
